"""Announce committed change-log rows to whoever listens (realtime, later webhooks), never before commit.

The documents floor knows nothing of its listeners: a higher area registers one at start-up. A row
is announced from `transaction.on_commit`, so a rolled-back write announces nothing.

On PostgreSQL a row's `seq` is assigned as its transaction commits (a deferred trigger, migration
0004), so the writer learns it only afterwards: `announce_numbered_at_commit` reads the seqs of the
transaction's rows back in one query once it has committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction

logger = logging.getLogger("basalt.documents.changefeed")


@dataclass(frozen=True)
class Change:
    """One committed change-log row, as the listeners receive it."""

    project_id: int
    seq: int
    collection: str
    document_id: str
    type: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


Listener = Callable[[Change], None]
_listeners: list[Listener] = []


def register(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unregister(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _deliver(change: Change) -> None:
    for listener in list(_listeners):
        try:
            listener(change)
        except Exception:  # a listener's outage must never fail the write that already committed
            logger.exception("change listener %r failed for seq %s", listener, change.seq)


def announce(change: Change) -> None:
    """Hand the row to every listener once the surrounding transaction commits."""
    if _listeners:
        transaction.on_commit(lambda: _deliver(change))


# Per connection: (row id, change without its seq) written since the last commit. Rows of a
# rolled-back transaction or savepoint linger until the next commit, where the read-back doesn't
# find them (ids are never reused) and drops them.
_UNNUMBERED = "_basalt_unnumbered_changes"


def announce_numbered_at_commit(row_id: int, change: Change) -> None:
    """PostgreSQL: hand the row to every listener once committed, with the seq the commit gave it."""
    if not _listeners:
        return
    conn = transaction.get_connection()
    pending = getattr(conn, _UNNUMBERED, None)
    if pending is None:
        pending = []
        setattr(conn, _UNNUMBERED, pending)
    pending.append((row_id, change))
    transaction.on_commit(lambda: _deliver_numbered(conn))


def _deliver_numbered(conn: Any) -> None:
    pending = getattr(conn, _UNNUMBERED, None)
    if not pending:
        return  # an earlier callback of the same commit delivered them all
    setattr(conn, _UNNUMBERED, [])
    if conn.in_atomic_block:
        # Only when a test runs on-commit callbacks inside its never-committed transaction:
        # number the rows now, as the commit would.
        with conn.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS basalt_change_log_number IMMEDIATE")
            cursor.execute("SET CONSTRAINTS basalt_change_log_number DEFERRED")
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT id, seq FROM basalt_change_log WHERE id = ANY(%s) AND seq IS NOT NULL",
            [[row_id for row_id, _ in pending]],
        )
        seqs = dict(cursor.fetchall())
    numbered = sorted((seqs[row_id], change) for row_id, change in pending if row_id in seqs)
    for seq, change in numbered:
        _deliver(replace(change, seq=seq))

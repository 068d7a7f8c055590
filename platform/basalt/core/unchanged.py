"""Rows a SQLite connection read, kept while its database file is unchanged since it read them.

SQLite counts, per connection, the commits every other connection made to the file (in this
process or another: `PRAGMA data_version`) and the rows this connection changed itself
(`total_changes`, whether committed or rolled back). While neither moved, no row in the file can
differ from what this connection read before, so a row read then is still the row. On the data
API's hottest path (the key lookup before every request) the PRAGMA costs about a tenth of the
query it saves through Django's cursor (bench/README.md, 2026-12-07 15:00).

Only rows read outside a transaction are kept or served: inside one, what the connection reads may
be its own uncommitted writes (rolled back later without moving either counter) or an older
snapshot. PostgreSQL has no such counter; there `remembered` always reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections

from basalt.core import loop_lane

T = TypeVar("T")

# Rows kept per connection at most; past it the memo starts again (keys of a few projects fit).
MEMO_SIZE = 1_000
# The tables the kept rows are read from (projects.keys: the key, its project, the caller epoch).
KEPT_FROM = ("basalt_api_key", "basalt_project", "basalt_caller_epoch")
_ATTRIBUTE = "_basalt_unchanged"


class _Memo:
    __slots__ = ("raw", "version", "changes", "rows")

    def __init__(self, raw, version: int | None, changes: int):
        self.raw = raw  # held so that a reconnected connection is never taken for this one
        self.version = version  # None: not read (this connection had just written), nothing kept
        self.changes = changes
        self.rows: dict[Hashable, object] = {}


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`'s result, or the one it gave this connection before if the file has not changed
    since. `read` must only read, and its result must not be changed by the caller."""
    memo = _current_memo()
    if memo is None:
        return read()
    try:
        return memo.rows[key]  # type: ignore[return-value]
    except KeyError:
        pass
    value = read()
    if len(memo.rows) >= MEMO_SIZE:
        memo.rows.clear()
    memo.rows[key] = value
    return value


def _current_memo() -> _Memo | None:
    # The wrapper once: each attribute read through django.db.connection is a context-local lookup.
    wrapper = connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "sqlite":
        return None
    raw = wrapper.connection
    if raw is None or raw.in_transaction:
        return None  # not connected yet (the read connects; the memo starts next time), or in a transaction
    changes = raw.total_changes
    memo = wrapper.__dict__.get(_ATTRIBUTE)
    if memo is not None and memo.raw is raw and memo.changes != changes:
        # This connection wrote since its last lookup: it is serving writes, and its next lookup
        # would most likely find another write of its own. The PRAGMA, a call into SQLite that
        # lets go of the GIL, would then cost every write and save none (server CPU per create
        # +10% in the embedded anchor runs, bench/README.md): note the count and read instead.
        wrapper.__dict__[_ATTRIBUTE] = _Memo(raw, None, changes)
        return None
    loop_lane.match_busy_timeout(wrapper)
    try:
        version = raw.execute("PRAGMA data_version").fetchone()[0]
    except sqlite3.Error:
        return None  # busy (the loop's connection does not wait): the read decides, as without a memo
    if memo is None or memo.raw is not raw or memo.version != version:
        memo = _Memo(raw, version, changes)
        wrapper.__dict__[_ATTRIBUTE] = memo
    return memo


@contextmanager
def cursor_writing_none_of_the_kept_tables() -> Iterator[Any]:
    """A cursor for statements that write none of `KEPT_FROM`, triggers included (the document
    store's: documents, their kept counts, relations, the change log). This connection's own
    changes through it leave the memo in force, as other connections' commits to those tables do
    (data_version tells). Without it every write request's key lookup found a change of its own
    and read the key again: a sixth statement per create on SQLite. A change made any other way
    between the lookup and the block, or an error in the block, still sends the next lookup to
    the database."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    with wrapper.cursor() as cursor:
        raw = wrapper.connection
        before = raw.total_changes if wrapper.vendor == "sqlite" else None
        yield cursor
    if before is None:
        return
    memo = wrapper.__dict__.get(_ATTRIBUTE)
    if memo is not None and memo.raw is raw and memo.changes == before:
        memo.changes = raw.total_changes

"""Announce committed change-log rows to whoever listens (realtime, later webhooks), never before commit.

The documents floor knows nothing of its listeners: a higher area registers one at start-up. A row
is announced from `transaction.on_commit`, so a rolled-back write announces nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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

"""Bound the work of a find and of a batch: time spent in the database and bytes loaded from it.

A find runs under `QUERY_TIMEOUT_MS` (PostgreSQL: `SET LOCAL statement_timeout` sent with the
statements in one round trip; SQLite: a progress handler that interrupts the statement) and may
load at most `FIND_MAX_RESPONSE_BYTES` of documents, counted row by row as they are fetched, so a
page of huge documents is refused before it is held in memory. A batch shares one deadline
(`BATCH_TIMEOUT_MS`) and one byte allowance (`BATCH_MAX_RESPONSE_BYTES`) across its
sub-requests: each find gets what is left.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings

from basalt.core import loop_lane
from basalt.core.errors import InvalidQuery


@dataclass
class Allowance:
    """What the current request may still spend: until `deadline` (monotonic), `bytes_left` bytes."""

    deadline: float
    bytes_left: int
    timeout_ms: int
    max_bytes: int
    scope: str  # "find" or "batch": named in the error so the client knows what to shrink
    # The deadline is the event loop's (core.loop_lane): running past it moves the request to a thread.
    on_loop: bool = False

    def seconds_left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise too_slow(self)
        return left

    def spend(self, size: int) -> None:
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise too_large(self)


_batch: ContextVar[Allowance | None] = ContextVar("basalt_batch_allowance", default=None)
_cap_ms: ContextVar[int | None] = ContextVar("basalt_query_cap_ms", default=None)


def too_slow(allowance: Allowance) -> InvalidQuery | loop_lane.LeaveTheLoop:
    if allowance.on_loop:
        return loop_lane.LeaveTheLoop()
    where = "The batch" if allowance.scope == "batch" else "The query"
    return InvalidQuery(
        f"{where} took longer than {allowance.timeout_ms} ms; narrow `where`, add an index or ask for less.",
        details={"reason": "timeout", "scope": allowance.scope, "limit_ms": allowance.timeout_ms},
    )


def too_large(allowance: Allowance) -> InvalidQuery:
    where = "The batch's results are" if allowance.scope == "batch" else "The results are"
    return InvalidQuery(
        f"{where} larger than {allowance.max_bytes} bytes; ask for fewer documents (`limit`) or split the request.",
        details={"reason": "too_large", "scope": allowance.scope, "max_bytes": allowance.max_bytes},
    )


def _new(timeout_ms: int, max_bytes: int, scope: str) -> Allowance:
    return Allowance(time.monotonic() + timeout_ms / 1000, max_bytes, timeout_ms, max_bytes, scope)


def for_query() -> Allowance:
    """The allowance of one find or count: its own bounds, narrowed by what its batch has left."""
    cap = _cap_ms.get()
    timeout_ms = settings.QUERY_TIMEOUT_MS if cap is None else min(cap, settings.QUERY_TIMEOUT_MS)
    own = _new(timeout_ms, settings.FIND_MAX_RESPONSE_BYTES, "find")
    batch = _batch.get()
    if batch is None:
        return _within_loop_deadline(own)
    batch.seconds_left()
    if batch.deadline < own.deadline:
        own.deadline, own.timeout_ms, own.scope = batch.deadline, batch.timeout_ms, "batch"
    if batch.bytes_left < own.bytes_left:
        own.bytes_left, own.max_bytes, own.scope = batch.bytes_left, batch.max_bytes, "batch"
    return _within_loop_deadline(own)


def _within_loop_deadline(own: Allowance) -> Allowance:
    leave_by = loop_lane.deadline()
    if leave_by is not None and leave_by < own.deadline:
        own.deadline, own.on_loop = leave_by, True
    return own


@contextmanager
def batch() -> Iterator[Allowance]:
    """Run a batch under one shared allowance; sub-requests spend it through `for_query` and `spend`."""
    allowance = _new(settings.BATCH_TIMEOUT_MS, settings.BATCH_MAX_RESPONSE_BYTES, "batch")
    token = _batch.set(allowance)
    try:
        yield allowance
    finally:
        _batch.reset(token)


@contextmanager
def capped(timeout_ms: int) -> Iterator[None]:
    """Give the finds and counts run inside at most `timeout_ms` each (a view that must stay fast)."""
    token = _cap_ms.set(max(1, int(timeout_ms)))
    try:
        yield
    finally:
        _cap_ms.reset(token)

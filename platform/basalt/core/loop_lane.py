"""Short reads answered on the embedded server's event loop instead of a request thread.

Under `serve` (granian, one process) a request on a request thread crosses threads four times:
granian's runtime hands it to the event loop, the loop to the thread, the thread's result back to
the loop, the loop the answer back to granian. On this 2-core machine those hand-offs (futex
wake-ups, the GIL passed back and forth, ~17 context switches a get) cost more than the request's
own Python: 0.86 ms of CPU per get by id against 0.35 ms for the same application under granian's
WSGI server on one thread (bench/README.md, 2026-12-07). Run on the loop, a get by id costs
0.47 ms and `serve` answers 1.9 times as many.

Only requests whose work is bounded ride the loop, because while one runs nothing else in the
process does (other requests, WebSocket frames, SSE):
- bodiless GET and HEAD requests on paths the areas register in INLINE_PATHS (document reads by
  id, finds and counts), so nothing waits for a client to send;
- only on SQLite in WAL mode, where a reader never waits for a writer and the database is in this
  process (no network round trip blocks the loop), and only while nothing is written: a write, or
  a transaction's BEGIN IMMEDIATE, would queue on SQLite's write lock for up to its busy timeout,
  so any statement other than a SELECT leaves the loop before it runs (`_reads_only`);
- a find or count whose statements run past LOOP_BUDGET_MS of database time is interrupted and the
  whole request runs again on a request thread (`LeaveTheLoop`): a read that left nothing behind
  is safe to repeat, and the loop never waits on a scan. Reads by id are one index probe.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection

# Areas register the paths of their bounded reads here (AppConfig.ready), as STREAM_PATHS.
INLINE_PATHS: list[re.Pattern[str]] = []
_READ_METHODS = frozenset({"GET", "HEAD"})
_READ_STATEMENTS = ("SELECT", "WITH")

_deadline: ContextVar[float | None] = ContextVar("basalt_loop_deadline", default=None)


class LeaveTheLoop(BaseException):
    """The request ran past what it may do on the event loop: run it again on a request thread.

    A BaseException so that it passes Django's handler, the views' `except Exception` error answers
    and the request log untouched (like GeneratorExit): the attempt leaves no answer, no log line
    and no count behind, and every `atomic` block it crosses rolls back."""


def register(pattern: str) -> None:
    if not any(known.pattern == pattern for known in INLINE_PATHS):
        INLINE_PATHS.append(re.compile(pattern))


def eligible(scope: dict) -> bool:
    """A read on a registered path (the caller has checked that it carries no body)."""
    if scope["method"] not in _READ_METHODS:
        return False
    path = scope["path"]
    return any(pattern.match(path) for pattern in INLINE_PATHS)


def deadline() -> float | None:
    """The monotonic time at which a read on the loop must leave it (infinity: none), or None off the loop."""
    return _deadline.get()


def _reads_only(execute, sql, params, many, context):
    if not sql.lstrip()[:6].upper().startswith(_READ_STATEMENTS):
        raise LeaveTheLoop
    return execute(sql, params, many, context)


@contextmanager
def on_the_loop(budget_ms: float | None) -> Iterator[None]:
    """Run synchronous request code on the running loop's own thread; its finds and counts must be
    done `budget_ms` from now (None: no deadline of the loop's, for the end of a started answer).

    Django refuses database calls from a thread that runs an event loop (SynchronousOnlyOperation),
    which protects async code from blocking by accident; here the blocking is the point and bounded
    by the rules above, so the loop is set aside for the call and put back after it."""
    loop = asyncio.events._get_running_loop()
    token = _deadline.set(math.inf if budget_ms is None else time.monotonic() + budget_ms / 1000)
    asyncio.events._set_running_loop(None)
    try:
        with connection.execute_wrapper(_reads_only):
            yield
    finally:
        asyncio.events._set_running_loop(loop)
        _deadline.reset(token)

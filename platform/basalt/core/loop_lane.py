"""Short document requests answered on the embedded server's event loop instead of a request thread.

Under `serve` (granian, one process) a request on a request thread crosses threads four times:
granian's runtime hands it to the event loop, the loop to the thread, the thread's result back to
the loop, the loop the answer back to granian. On this 2-core machine those hand-offs (futex
wake-ups, the GIL passed back and forth, ~20 context switches a get) cost more than the request's
own Python: 0.8-0.95 ms of CPU per get by id against 0.35 ms for the same application under
granian's WSGI server on one thread (bench/README.md, 2026-12-07 09:00). Run on the loop, a get by
id costs about 0.45 ms and `serve` answers 1.6-1.9 times as many.

While a request runs on the loop nothing else in the process does (other requests, WebSocket
frames, SSE), so only requests whose work is bounded and which never wait ride it:
- requests on paths and methods the areas register (`register`: documents by id, finds, counts,
  creates, updates, deletes; the Parse face's objects), with no body or a small one that has
  arrived whole before the request starts (BODY_MAX, a Content-Length), and no Idempotency-Key;
- only on SQLite in WAL mode (the database in this process, no network round trip; a reader never
  waits for a writer). The loop's connection never waits for a lock: its busy timeout is 0 until
  the request's first write has started. A write that finds the lock taken (by a request thread,
  the background worker, the request log) fails at once, before anything is written, and so does
  a read that meets a lock: the request is tried again on the loop after a pause in which the
  loop serves everything else (`WaitForTheLock`). Once a write has started the transaction holds
  the lock, and the normal timeout is back for the rare second transaction of a request;
- a find or count still running SERVE_LOOP_BUDGET_MS after the request started is interrupted, and
  the request runs again on a request thread (`LeaveTheLoop`), as does one whose lock waits on the
  loop added up to the busy timeout a thread would wait.
An attempt that wrote nothing and answered nothing is safe to repeat, whole, with its body.

Writes gain most: every create on the loop is the only writer, where request threads queued on
SQLite's write lock and slept in its busy handler between tries.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import DatabaseError, connection

# Bodies up to this size are received whole on the loop before the request runs there.
BODY_MAX = 64 * 1024
_READ_STATEMENTS = ("SELECT", "WITH")
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6

# (path pattern, methods): areas register theirs (AppConfig.ready), as STREAM_PATHS.
INLINE_ROUTES: list[tuple[re.Pattern[str], frozenset[str]]] = []


@dataclass
class _Attempt:
    deadline: float  # monotonic; infinity for the end of an answer already started
    wrote: bool = False


_attempt: ContextVar[_Attempt | None] = ContextVar("basalt_loop_attempt", default=None)


class LeaveTheLoop(BaseException):
    """The request cannot finish on the event loop: run it again on a request thread.

    A BaseException so that it passes Django's handler, the views' `except Exception` error answers
    and the request log untouched (like GeneratorExit): the attempt leaves no answer, no log line
    and no count behind, and every `atomic` block it crosses rolls back."""


class WaitForTheLock(LeaveTheLoop):
    """SQLite's write lock is taken (by a request thread, the background worker, the request log):
    run the request again on the loop once the lock may be free (`retry_delays`), not on a thread.

    A thread would queue on the lock in SQLite's busy handler, and while it held the lock every
    attempt on the loop would find it taken and follow it there: under a stream of creates the
    lane emptied into the threads, which then took turns on the lock (bench/README.md)."""


def retry_delays(total_seconds: float) -> Iterator[float]:
    """Pauses between attempts on the loop, 1 ms doubling to 32 ms, `total_seconds` in all (the
    busy timeout a thread would wait); after them the request goes to a thread."""
    delay, waited = 0.001, 0.0
    while waited < total_seconds:
        yield delay
        waited += delay
        delay = min(delay * 2, 0.032)


def lock_wait_seconds() -> float:
    return _configured_busy_ms() / 1000


def register(pattern: str, methods: Iterable[str]) -> None:
    wanted = frozenset(method.upper() for method in methods)
    if not any(known.pattern == pattern and known_methods == wanted for known, known_methods in INLINE_ROUTES):
        INLINE_ROUTES.append((re.compile(pattern), wanted))


def body_length(scope: dict) -> int | None:
    """The declared body length (0: none) of a request that may run on the loop, or None: a
    registered route whose body, if any, is small and declared; no Idempotency-Key (its stored
    answers take the middleware chain and their own transactions). HTTP/1.1, all `serve` speaks,
    frames every body: without a length or chunks there is none."""
    method, path = scope["method"], scope["path"]
    if not any(method in methods and pattern.match(path) for pattern, methods in INLINE_ROUTES):
        return None
    length = 0
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or name == b"idempotency-key":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length if length <= BODY_MAX else None


def deadline() -> float | None:
    """The monotonic time at which a request on the loop must leave it (infinity: none), or None off the loop."""
    attempt = _attempt.get()
    return None if attempt is None else attempt.deadline


def _guard(execute, sql, params, many, context):
    attempt = _attempt.get()
    if attempt is None or attempt.wrote:
        return execute(sql, params, many, context)
    # At the attempt's first statement, on whichever connection Django opened for it; the loop's
    # own stays at 0 from one request to the next (_NotWaiting).
    match_busy_timeout(connection)
    try:
        result = execute(sql, params, many, context)
    except DatabaseError as exc:
        code = getattr(exc.__cause__, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED):
            raise WaitForTheLock from None  # nothing was written: try again once the lock may be free
        raise
    if not sql.lstrip()[:6].upper().startswith(_READ_STATEMENTS):
        # The first write (or BEGIN IMMEDIATE) holds the lock now: from here on the attempt cannot
        # be repeated, and a later transaction of the request waits for the lock like a thread.
        attempt.wrote = True
        _set_busy_timeout(_configured_busy_ms())
    return result


def _configured_busy_ms() -> int:
    return int(connection.settings_dict.get("OPTIONS", {}).get("timeout", 5) * 1000)


class _NotWaiting(threading.local):
    """The raw connection of this thread whose busy timeout is 0 (None: none is).

    A PRAGMA each way around every request cost the loop 12% of its gets per second (bench/README.md):
    each call into SQLite lets go of the GIL, and taking it back waits for whichever thread took
    it. So the loop's connection stays at 0 between its requests; a write puts the configured
    timeout back for the rest of its request, and a statement of this thread outside the loop
    (`_waits_off_the_loop`: a test, a script after its loop) before it runs. Held strongly, so
    that no newer connection can be mistaken for it."""

    raw = None


_not_waiting = _NotWaiting()


def _set_busy_timeout(milliseconds: int) -> None:
    raw = connection.connection
    raw.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")
    _not_waiting.raw = raw if milliseconds == 0 else None
    if milliseconds == 0 and _waits_off_the_loop not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, _waits_off_the_loop)  # outermost, for good


def _waits_off_the_loop(execute, sql, params, many, context):
    match_busy_timeout(connection)
    return execute(sql, params, many, context)


def match_busy_timeout(wrapper) -> None:
    """Set the busy timeout the next statement on `wrapper`'s raw connection must run with: 0 on
    the loop until its request writes, the configured one off the loop. The one rule for the two
    wrappers above and for a statement run past Django's cursor (core.unchanged)."""
    attempt = _attempt.get()
    raw = wrapper.connection
    if attempt is None:
        if raw is _not_waiting.raw and raw is not None:
            _set_busy_timeout(_configured_busy_ms())
    elif not attempt.wrote and raw is not _not_waiting.raw:
        _set_busy_timeout(0)


@contextmanager
def on_the_loop(budget_ms: float | None) -> Iterator[None]:
    """Run synchronous request code on the running loop's own thread; its finds and counts must be
    done `budget_ms` from now (None: no deadline of the loop's, for the end of a started answer).

    Django refuses database calls from a thread that runs an event loop (SynchronousOnlyOperation),
    which protects async code from blocking by accident; here the blocking is the point and bounded
    by the rules above, so the loop is set aside for the call and put back after it."""
    loop = asyncio.events._get_running_loop()
    attempt = _Attempt(math.inf if budget_ms is None else time.monotonic() + budget_ms / 1000)
    token = _attempt.set(attempt)
    asyncio.events._set_running_loop(None)
    try:
        with connection.execute_wrapper(_guard):
            yield
    finally:
        asyncio.events._set_running_loop(loop)
        _attempt.reset(token)

"""Fail the PostgreSQL run when a test leaves a connection to the test database open.

Django drops the test database at the end of the run, and PostgreSQL refuses while any session is
connected to it ("database ... is being accessed by other users"); pytest-django then only warns
and the database stays behind. Django's teardown closes the main thread's connection and the pool's
idle ones, never a pooled connection another thread (a live server's, a WebSocket consumer's, a
`sync_to_async` worker's) took and did not give back, nor one this thread kept in a context
variable while an event loop ran in it (Playwright's sync API: tests/console/browser.py). So every
checkout is recorded with the test, thread and call stack that took it, and the session ends with an
error naming those still out and any other session on the test database; those sessions are then
ended, so the run fails without leaving the database behind.
"""

from __future__ import annotations

import threading
import time
import traceback
import weakref
from dataclasses import dataclass

_current_test = "(outside a test)"


@dataclass(frozen=True)
class Checkout:
    conn: weakref.ref  # weak: holding it would keep alive a connection its dead thread let go
    test: str
    thread: str
    stack: str


_out: dict[int, Checkout] = {}
_lock = threading.Lock()


def record_checkouts() -> None:
    """Wrap psycopg_pool's getconn/putconn to keep who holds each pooled connection."""
    from psycopg_pool import ConnectionPool

    if getattr(ConnectionPool.getconn, "records_checkouts", False):
        return
    getconn, putconn = ConnectionPool.getconn, ConnectionPool.putconn

    def recording_getconn(self, *args, **kwargs):
        conn = getconn(self, *args, **kwargs)
        stack = _caller_stack()
        with _lock:
            _out[id(conn)] = Checkout(weakref.ref(conn), _current_test, threading.current_thread().name, stack)
        return conn

    def recording_putconn(self, conn):
        with _lock:
            _out.pop(id(conn), None)
        return putconn(self, conn)

    recording_getconn.records_checkouts = True
    ConnectionPool.getconn, ConnectionPool.putconn = recording_getconn, recording_putconn


def _caller_stack(depth: int = 14) -> str:
    """The stack above Django's connection machinery: the code that asked for a connection."""
    frames = [
        frame for frame in traceback.extract_stack()[:-2] if not any(part in frame.filename for part in _MACHINERY)
    ]
    return "".join(traceback.format_list(frames[-depth:]))


_MACHINERY = (
    "/django/db/",
    "/django/utils/asyncio.py",
    "/django/test/testcases.py",
    "/psycopg",
    "/_pytest/",
    "/pluggy/",
)


def entering(nodeid: str) -> None:
    """Name the test (or its teardown) that later checkouts belong to."""
    global _current_test
    _current_test = nodeid


def leaked_connections() -> dict[int, str]:
    """What holds the test database open besides the pool's idle connections, by backend pid."""
    import psycopg
    from django.db import connections

    connection = connections["default"]
    if connection.vendor != "postgresql":
        return {}
    connections.close_all()  # this (main) thread's own connection is Django's to close
    with _lock:
        taken = list(_out.values())
    # Every connection taken and never given back, open or not: one whose thread ended is only closed
    # when the garbage collector gets to it (so it may still block the drop), and the pool counts it
    # as in use for good (in production, a pool that shrinks until requests wait for a connection).
    problems: dict[int, str] = {}
    for number, c in enumerate(taken, 1):
        conn = c.conn()
        still_open = conn is not None and not conn.closed
        problems[conn.info.backend_pid if still_open else -number] = (
            f"a pooled connection taken during {c.test} by thread {c.thread!r} was never given back"
            f"{'' if still_open else ' (closed since, without going back)'}; taken at:\n{c.stack}"
        )
    known = {pid for pid in problems if pid > 0}
    pool = connection.pool
    if pool is not None:
        # The pool's idle connections (psycopg_pool keeps them in `_pool`) are closed with the pool.
        known |= {conn.info.backend_pid for conn in list(pool._pool)}
    db = connection.settings_dict
    params = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"]}
    with psycopg.connect(**params, password=db["PASSWORD"] or None, dbname="postgres", autocommit=True) as admin:
        # A backend whose client just closed ends a moment later: look again for up to 2 s.
        for _ in range(20):
            rows = admin.execute(
                "SELECT pid, application_name, client_port, state, left(query, 160) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [db["NAME"]],
            ).fetchall()
            rows = [row for row in rows if row[0] not in known]
            if not rows:
                break
            time.sleep(0.1)
        problems |= {
            pid: f"session {pid} from port {port} ({app or 'no application name'}, {state}), not from this "
            f"process's pool: {query}"
            for pid, app, port, state, query in rows
        }
        # Ended here so that Django can still drop the database; the run fails all the same.
        pids = [pid for pid in problems if pid > 0]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(20):
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]).fetchone():
                break
            time.sleep(0.1)
    return problems

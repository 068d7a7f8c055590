"""Bounded reads answered on the event loop's own thread (core.loop_lane), driven as granian drives the bridge."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from django.db import connection, transaction

from basalt.core import loop_lane
from basalt.core.errors import InvalidQuery
from basalt.core.wsgi_bridge import LOOP_LANE_EXTENSION, ThreadedWSGIBridge
from basalt.documents.query import budget

from .test_wsgi_bridge import call, http_scope, threads

LANE_PATH = "/lane-test/items/1"


@pytest.fixture(autouse=True)
def lane_routes(monkeypatch):
    monkeypatch.setattr(loop_lane, "INLINE_ROUTES", [])
    loop_lane.register(r"/lane-test/items(?:/[^/]+)?\Z", ("GET", "HEAD", "POST"))


def lane_scope(path: str = LANE_PATH, method: str = "GET", headers=(), lane: bool = True) -> dict:
    scope = http_scope(path, method, headers)
    scope["extensions"] = {LOOP_LANE_EXTENSION: 10} if lane else {}
    return scope


def recording_app(ran_on: list[int], leave_on_the_loop_thread: int | None = None):
    def app(environ, start_response):
        ran_on.append(threading.get_ident())
        if threading.get_ident() == leave_on_the_loop_thread:
            raise loop_lane.LeaveTheLoop
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"answered on " + (b"the loop" if threading.get_ident() == leave_on_the_loop_thread else b"a thread")]

    return app


def run_bridge(app, scope: dict) -> tuple[int, tuple[dict, list[dict]]]:
    async def main():
        bridge = ThreadedWSGIBridge(threads(1), handler=app)
        return threading.get_ident(), await call(bridge, scope)

    return asyncio.run(main())


def test_a_bodiless_read_on_a_registered_route_runs_on_the_loop_thread():
    ran_on: list[int] = []
    loop_thread, (start, body) = run_bridge(recording_app(ran_on), lane_scope())
    assert ran_on == [loop_thread]
    assert start["status"] == 200
    assert b"".join(part["body"] for part in body) == b"answered on a thread"  # the app's own text


def test_a_small_declared_body_arrives_whole_before_the_request_runs_on_the_loop():
    seen = {}

    def app(environ, start_response):
        seen["thread"] = threading.get_ident()
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("201 Created", [])
        return [b""]

    async def main():
        bridge = ThreadedWSGIBridge(threads(1), handler=app)
        scope = lane_scope(method="POST", headers=[(b"content-length", b"6")])
        return threading.get_ident(), await call(bridge, scope, [b"ab", b"cd", b"ef"])

    loop_thread, (start, _) = asyncio.run(main())
    assert seen == {"thread": loop_thread, "body": b"abcdef"}
    assert start["status"] == 201


@pytest.mark.parametrize(
    "scope",
    [
        lane_scope(method="DELETE"),
        lane_scope(method="POST", headers=[(b"content-length", str(loop_lane.BODY_MAX + 1).encode())]),
        lane_scope(method="POST", headers=[(b"transfer-encoding", b"chunked")]),
        lane_scope(method="POST", headers=[(b"content-length", b"2"), (b"idempotency-key", b"k1")]),
        lane_scope(path="/lane-test/other/1"),
        lane_scope(lane=False),
    ],
    ids=["unregistered-method", "body-over-the-limit", "chunked", "idempotency-key", "unregistered-path", "lane-off"],
)
def test_other_methods_large_or_chunked_bodies_stored_answers_other_paths_run_on_a_request_thread(scope):
    ran_on: list[int] = []
    loop_thread, (start, _) = run_bridge(recording_app(ran_on), scope)
    assert len(ran_on) == 1 and ran_on[0] != loop_thread
    assert start["status"] == 200


def test_a_request_that_leaves_the_loop_runs_again_on_a_thread_and_is_answered_once():
    ran_on: list[int] = []

    async def main():
        loop_thread = threading.get_ident()
        bridge = ThreadedWSGIBridge(threads(1), handler=recording_app(ran_on, leave_on_the_loop_thread=loop_thread))
        return loop_thread, await call(bridge, lane_scope())

    loop_thread, (start, body) = asyncio.run(main())
    assert ran_on[0] == loop_thread and len(ran_on) == 2 and ran_on[1] != loop_thread
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert [part["body"] for part in body] == [b"answered on a thread"]


def test_a_request_that_meets_the_write_lock_is_tried_again_on_the_loop_which_serves_others_meanwhile():
    attempts: list[int] = []
    served_between: list[str] = []

    def app(environ, start_response):
        attempts.append(threading.get_ident())
        if len(attempts) < 3:
            raise loop_lane.WaitForTheLock
        start_response("201 Created", [])
        return [environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))]

    async def other_work():
        await asyncio.sleep(0)
        served_between.append("other")

    async def main():
        bridge = ThreadedWSGIBridge(threads(1), handler=app)
        scope = lane_scope(method="POST", headers=[(b"content-length", b"4")])
        answer, _ = await asyncio.gather(call(bridge, scope, [b"body"]), other_work())
        return threading.get_ident(), answer

    loop_thread, (start, body) = asyncio.run(main())
    assert attempts == [loop_thread] * 3
    assert served_between == ["other"]
    assert start["status"] == 201 and [part["body"] for part in body] == [b"body"]  # the body, whole, each time


def test_lock_waits_on_the_loop_add_up_to_the_busy_timeout_then_go_to_a_thread(monkeypatch):
    assert sum(loop_lane.retry_delays(0.1)) >= 0.1
    assert max(loop_lane.retry_delays(5)) == 0.032
    ran_on: list[int] = []

    def app(environ, start_response):
        ran_on.append(threading.get_ident())
        if threading.get_ident() == ran_on[0]:
            raise loop_lane.WaitForTheLock
        start_response("200 OK", [])
        return [b"from a thread"]

    async def main():
        bridge = ThreadedWSGIBridge(threads(1), handler=app)
        return threading.get_ident(), await call(bridge, lane_scope())

    monkeypatch.setattr(loop_lane, "lock_wait_seconds", lambda: 0.01)
    loop_thread, (start, body) = asyncio.run(main())
    assert ran_on[0] == loop_thread and ran_on[-1] != loop_thread
    assert ran_on.count(loop_thread) == len(list(loop_lane.retry_delays(0.01))) + 1
    assert [part["body"] for part in body] == [b"from a thread"]


def test_on_the_loop_django_sees_no_running_loop_and_the_loop_is_back_after():
    seen = {}

    def app(environ, start_response):
        try:
            asyncio.get_running_loop()
            seen["loop"] = "running"
        except RuntimeError:
            seen["loop"] = "set aside"
        seen["deadline_left"] = loop_lane.deadline() - time.monotonic()
        start_response("200 OK", [])
        return [b""]

    async def main():
        bridge = ThreadedWSGIBridge(threads(1), handler=app)
        await call(bridge, lane_scope())
        return asyncio.get_running_loop() is not None, loop_lane.deadline()

    loop_back, deadline_after = asyncio.run(main())
    assert seen["loop"] == "set aside"
    assert 0 < seen["deadline_left"] <= 0.010
    assert loop_back and deadline_after is None


@pytest.mark.django_db(transaction=True)
def test_a_write_that_finds_the_lock_taken_leaves_the_loop_at_once_having_written_nothing():
    if connection.vendor != "sqlite":
        pytest.skip("the loop lane runs on SQLite only (serve enables it there)")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lane_probe (value integer)")
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another connection holds SQLite's write lock
        started = time.monotonic()
        with loop_lane.on_the_loop(1000):
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM lane_probe")  # reads go on beside the writer
                assert cursor.fetchone() == (0,)
            with pytest.raises(loop_lane.WaitForTheLock), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO lane_probe VALUES (1)")
        assert time.monotonic() - started < 1  # not the 20 s busy timeout a thread waits
        assert connection.get_autocommit() and not connection.in_atomic_block
        holder.execute("ROLLBACK")
        with loop_lane.on_the_loop(1000):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO lane_probe VALUES (2)")
                # Once a write holds the lock, the connection waits again like any other.
                assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == loop_lane._configured_busy_ms()
        with connection.cursor() as cursor:
            cursor.execute("SELECT value FROM lane_probe")
            assert cursor.fetchall() == [(2,)]  # nothing of the attempt that left was written
            assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == loop_lane._configured_busy_ms()
    finally:
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE lane_probe")


@pytest.mark.django_db(transaction=True)
def test_the_loops_connection_waits_for_no_lock_between_its_reads_and_waits_again_for_a_write_and_off_the_loop():
    if connection.vendor != "sqlite":
        pytest.skip("the loop lane runs on SQLite only (serve enables it there)")
    configured = loop_lane._configured_busy_ms()

    def busy_timeout() -> int:  # on the raw connection: past Django's wrappers, which would change it
        return this_thread["raw"].execute("PRAGMA busy_timeout").fetchone()[0]

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE lane_probe (value integer)")
    this_thread = {"raw": connection.connection}  # inside a coroutine Django gives each task its own
    holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)

    async def requests_on_the_loop() -> list[int]:
        seen = []
        for _ in range(2):
            with loop_lane.on_the_loop(1000), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM lane_probe")
                assert connection.connection is this_thread["raw"]  # on the loop: the thread's own
            seen.append(busy_timeout())  # between two reads on the loop: still 0
        with loop_lane.on_the_loop(1000), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("INSERT INTO lane_probe VALUES (1)")
            seen.append(busy_timeout())  # the write holds the lock; the rest of its request may wait
        with loop_lane.on_the_loop(1000), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM lane_probe")
            seen.append(busy_timeout())
        holder.execute("BEGIN IMMEDIATE")  # still no wait on the loop after the write's request
        with pytest.raises(loop_lane.WaitForTheLock), loop_lane.on_the_loop(1000):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("INSERT INTO lane_probe VALUES (2)")
        holder.execute("ROLLBACK")
        return seen

    try:
        started = time.monotonic()
        assert asyncio.run(requests_on_the_loop()) == [0, 0, configured, 0]
        assert time.monotonic() - started < 1
        # The same thread off the loop: its next statement waits for the lock like any thread's.
        assert busy_timeout() == 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT value FROM lane_probe")
            assert cursor.fetchall() == [(1,)]
        assert busy_timeout() == configured
    finally:
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE lane_probe")


def test_a_find_on_the_loop_has_the_loops_deadline_and_leaves_it_when_past():
    with loop_lane.on_the_loop(5):
        allowance = budget.for_query()
        assert allowance.on_loop
        assert allowance.deadline <= time.monotonic() + 0.005
        assert isinstance(budget.too_slow(allowance), loop_lane.LeaveTheLoop)
    own = budget.for_query()
    assert not own.on_loop
    assert isinstance(budget.too_slow(own), InvalidQuery)


def test_a_long_budget_keeps_the_finds_own_timeout():
    with loop_lane.on_the_loop(10_000_000):
        allowance = budget.for_query()
    assert not allowance.on_loop
    assert isinstance(budget.too_slow(allowance), InvalidQuery)


def test_serve_keeps_requests_off_the_loop_where_tasks_run_inline_or_the_database_is_remote(settings):
    """`serve --no-worker` on SQLite runs background tasks inline in the request (a webhook's
    delivery among them), which on the loop would hold it for the whole exchange."""
    from basalt.celery import app as celery_app
    from basalt.projects.management.commands.serve import Command

    settings.SERVE_LOOP_BUDGET_MS = 7
    eager = celery_app.conf.task_always_eager
    try:
        celery_app.conf.task_always_eager = True
        assert Command._loop_budget_ms() == 0
        celery_app.conf.task_always_eager = False
        assert Command._loop_budget_ms() == (7 if connection.vendor == "sqlite" else 0)
    finally:
        celery_app.conf.task_always_eager = eager

"""The change log under concurrent writers of one project (PostgreSQL): no per-project lock while a
transaction is open, and `seq` gap-free in commit order for a reader tailing the log."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from basalt.documents import store
from basalt.documents.models import ChangeLogEntry
from basalt.realtime import changes
from tests.documents.conftest import POSTS, key_client

DOCS = "/api/v1/collections/posts/documents"
WRITERS = 12
CREATES_PER_WRITER = 25

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_posts(project):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no concurrency to prove")
    assert key_client(project.secret).post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    return project


def _log(project_id: int) -> list[tuple[int, str]]:
    return list(ChangeLogEntry.objects.filter(project_id=project_id).order_by("seq").values_list("seq", "document_id"))


def _create(publishable: str, title: str):
    try:
        return key_client(publishable).post(DOCS, {"title": title}, format="json")
    finally:
        connections.close_all()


def test_an_open_transaction_does_not_hold_up_other_writers_and_seq_follows_commit_order(live_posts):
    project_id = live_posts.project.id
    before = changes.project_seq(project_id)
    written, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                store.append_change(project_id, "posts", "slow", "create", None, {"id": "slow"}, timezone.now())
                written.set()
                assert release.wait(30)
            done.set()
        finally:
            connections.close_all()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert written.wait(30)
    # Another writer of the same project commits while the first transaction is still open (with
    # the old counter-row sequencer this create waited for the open transaction: a deadlock here).
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(_create, live_posts.publishable, "fast")
        try:
            fast = pending.result(timeout=30)
        finally:
            release.set()  # never leave the open transaction behind, even when the create hung
    assert fast.status_code == 201
    slow.join(30)
    assert done.is_set()
    # Its row went in unnumbered (a plain transaction): its process's settler numbers it after the commit.
    from basalt.documents import changefeed

    assert changefeed.wait_settled(30)
    # The transaction that inserted first but committed last is numbered last.
    assert _log(project_id)[-2:] == [(before + 1, fast.json()["id"]), (before + 2, "slow")]


def test_many_writers_one_project_a_tailing_reader_never_skips_or_reorders(live_posts):
    project_id = live_posts.project.id
    start = changes.project_seq(project_id)
    total = WRITERS * CREATES_PER_WRITER
    barrier = threading.Barrier(WRITERS + 2)
    stop = threading.Event()

    def writer(n: int) -> list[str]:
        client = key_client(live_posts.publishable)
        ids = []
        try:
            barrier.wait()
            for i in range(CREATES_PER_WRITER):
                response = client.post(DOCS, {"title": f"w{n}-{i}"}, format="json")
                assert response.status_code == 201, response.content
                ids.append(response.json()["id"])
            return ids
        finally:
            connections.close_all()

    def tail(resume_every: int) -> list[tuple[int, str]]:
        """Follow the log the way a realtime hub does: read the position, then the rows up to it;
        every `resume_every` reads, drop the position and resume from the last seq seen (`since`)."""
        seen: list[tuple[int, str]] = []
        after = start
        reads = 0
        try:
            barrier.wait()
            while True:
                finished = stop.is_set()
                upto = changes.positions([project_id])[project_id]
                while after < upto:
                    if reads % resume_every == resume_every - 1:
                        rows = changes.replay(project_id, after, upto, retention_hours=24)
                    else:
                        rows = changes.read_range(project_id, after, upto)
                    reads += 1
                    # Every row up to the position is there, numbered right after the last one.
                    assert [row.seq for row in rows] == list(range(after + 1, after + 1 + len(rows)))
                    assert rows, (after, upto)
                    seen += [(row.seq, row.document_id) for row in rows]
                    after = rows[-1].seq
                # Unbounded tail too: whatever is visible past the position continues the sequence.
                ahead = changes.read_range(project_id, after, None, limit=50)
                assert [row.seq for row in ahead] == list(range(after + 1, after + 1 + len(ahead)))
                if finished and after == changes.project_seq(project_id):
                    return seen
        finally:
            connections.close_all()

    with ThreadPoolExecutor(WRITERS + 2) as pool:
        readers = [pool.submit(tail, 3), pool.submit(tail, 1_000_000)]
        writers = [pool.submit(writer, n) for n in range(WRITERS)]
        created = [doc_id for future in writers for doc_id in future.result()]
        stop.set()
        tails = [reader.result() for reader in readers]

    log = [(seq, doc_id) for seq, doc_id in _log(project_id) if seq > start]
    assert [seq for seq, _ in log] == list(range(start + 1, start + total + 1))
    assert sorted(doc_id for _, doc_id in log) == sorted(created)
    assert tails == [log, log]
    # Each writer's own creates appear in the order it made them (its commit order).
    position = {doc_id: seq for seq, doc_id in log}
    for future in writers:
        ids = future.result()
        assert [position[doc_id] for doc_id in ids] == sorted(position[doc_id] for doc_id in ids)


@contextmanager
def _sequencer_held(project_id: int):
    """Another session in the middle of numbering the project's log: its lock is held until the
    block ends (or until `release` is set inside it)."""
    held, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('basalt.changelog:' || %s, 0))", [project_id]
                )
                held.set()
                assert release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert held.wait(30)
        yield release
    finally:
        release.set()
        holder.join(30)


def test_a_create_numbers_its_row_in_its_own_transaction(live_posts):
    """One commit per create: the row is numbered by the transaction's last statement, not by a
    second transaction after it (a second commit per write), and written once, not inserted then
    updated."""
    statements: list[tuple[str, bool]] = []

    def record(execute, sql, params, many, context):
        statements.append((sql, connection.in_atomic_block))
        return execute(sql, params, many, context)

    client = key_client(live_posts.publishable)
    with connection.execute_wrapper(record):
        response = client.post(DOCS, {"title": "one"}, format="json")
    assert response.status_code == 201
    in_transaction = [sql for sql, inside in statements if inside]
    # The row is inserted already numbered, by the transaction's last statement.
    assert "basalt_log_change" in in_transaction[-1], in_transaction
    assert not any("basalt_change_log" in sql for sql in in_transaction), in_transaction
    # Having numbered its own row, it passes no more after the commit (a round trip per write).
    assert not any("basalt_number_changes" in sql for sql, _inside in statements), statements
    assert _log(live_posts.project.id)[-1] == (1, response.json()["id"])


def test_a_writer_that_finds_the_sequencer_busy_leaves_its_row_to_the_next_pass(live_posts):
    from basalt.documents import changefeed

    project_id = live_posts.project.id
    with _sequencer_held(project_id):
        # Does not queue for the lock: the holder (a write's last statement or after-commit pass)
        # passes again once it has committed.
        waited = _create(live_posts.publishable, "left")
        # Its process's settler passes a few times, finds the lock still taken, and leaves it.
        assert changefeed.wait_settled(30)
    assert waited.status_code == 201
    assert _log(project_id) == [(None, waited.json()["id"])]
    # Here the holder was this test, which passes no more: the next write numbers both, in order.
    after = _create(live_posts.publishable, "next")
    assert _log(project_id) == [(1, waited.json()["id"]), (2, after.json()["id"])]


def test_a_writer_refused_by_a_busy_sequencer_answers_at_once_and_its_row_is_numbered_once_the_lock_is_free(
    live_posts, monkeypatch
):
    """No later write, no sweep: its process's settler passes after the commit and numbers the row
    once the lock is free, so a subscriber hears of it without waiting for the next write or the
    once-a-second sweep; the request does not wait for the lock, nor pass itself."""
    from basalt.documents import changefeed

    monkeypatch.setattr(changefeed, "SETTLE_PAUSES", (0.0, *([0.05] * 60)))
    project_id = live_posts.project.id
    statements: list[str] = []

    def record(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with _sequencer_held(project_id) as release:
        with connection.execute_wrapper(record):
            created = key_client(live_posts.publishable).post(DOCS, {"title": "refused"}, format="json")
        assert created.status_code == 201
        assert _log(project_id) == [(None, created.json()["id"])]  # answered while the lock is held
        assert not any("basalt_number_changes" in sql or "seq IS NULL" in sql for sql in statements), statements
        release.set()
        assert changefeed.wait_settled(30)
    assert _log(project_id) == [(1, created.json()["id"])]


def test_one_settler_pass_serves_every_writer_that_asked_before_it(live_posts, monkeypatch):
    from basalt.documents import changefeed

    passes: list[int] = []
    monkeypatch.setattr(changefeed, "settle", passes.append)  # what a pass does: the test above
    with changefeed._settler._changed:  # the thread takes nothing until all three have asked
        for _ in range(3):
            changefeed._settler.ask(live_posts.project.id)
    assert changefeed.wait_settled(30)
    assert passes == [live_posts.project.id]

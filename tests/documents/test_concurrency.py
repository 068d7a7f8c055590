"""Atomicity under concurrency on PostgreSQL: increments add up, add_unique never duplicates, unique holds."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections

from tests.documents.conftest import POSTS, key_client

DOCS = "/api/v1/collections/posts/documents"
THREADS = 25  # separate connections; PostgreSQL here is shared, so not 100 at once


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def live_posts(project):
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is exercised on PostgreSQL (SQLite serialises all writers)")
    assert key_client(project.secret).post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    return project


def _hammer(calls: list) -> list:
    start = threading.Barrier(THREADS)

    def run(chunk):
        try:
            start.wait()
            return [call() for call in chunk]
        finally:
            connections.close_all()

    chunks = [calls[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        return [result for chunk in pool.map(run, chunks) for result in chunk]


def test_100_concurrent_increments_add_exactly_100(live_posts):
    pk = key_client(live_posts.publishable)
    doc = pk.post(DOCS, {"title": "counter"}, format="json").json()
    url = f"{DOCS}/{doc['id']}"

    def increment():
        return (
            key_client(live_posts.publishable)
            .patch(url, {"score": {"__op": "increment", "by": 1}}, format="json")
            .status_code
        )

    began = time.perf_counter()
    statuses = _hammer([increment] * 100)
    elapsed = time.perf_counter() - began
    print(f"100 concurrent increments in {elapsed:.2f}s")
    assert statuses == [200] * 100
    final = pk.get(url)
    assert final.json()["score"] == 100 and final["ETag"] == '"101"'
    from basalt.documents import changefeed
    from basalt.documents.models import ChangeLogEntry

    assert changefeed.wait_settled(30)  # the writers refused by the sequencer are numbered after their commit
    seqs = list(ChangeLogEntry.objects.filter(project=live_posts.project).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 102))


def test_concurrent_add_unique_never_duplicates(live_posts):
    pk = key_client(live_posts.publishable)
    doc = pk.post(DOCS, {"title": "set", "tags": []}, format="json").json()
    url = f"{DOCS}/{doc['id']}"

    def add(i):
        return lambda: (
            key_client(live_posts.publishable)
            .patch(url, {"tags": {"__op": "add_unique", "items": ["same", f"t{i % 10}"]}}, format="json")
            .status_code
        )

    assert _hammer([add(i) for i in range(50)]) == [200] * 50
    tags = pk.get(url).json()["tags"]
    assert sorted(tags) == sorted(["same", *[f"t{i}" for i in range(10)]])


def test_concurrent_inserts_with_a_unique_index(live_posts):
    from basalt.documents import indexes
    from basalt.documents.models import CollectionIndex

    # No Celery worker runs beside the tests: run the queued builds here (CONCURRENTLY, no transaction).
    for row in CollectionIndex.objects.filter(status=CollectionIndex.PENDING):
        indexes.build_index(row.id)
    deadline = time.time() + 30
    while CollectionIndex.objects.filter(unique=True).exclude(status=CollectionIndex.READY).exists():
        assert time.time() < deadline, list(CollectionIndex.objects.values("status", "error"))
        time.sleep(0.2)

    def insert():
        return key_client(live_posts.publishable).post(DOCS, {"title": "t", "slug": "one"}, format="json")

    responses = _hammer([insert] * THREADS)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (THREADS - 1)
    assert all(
        r.json()["error"]["details"] == {"slug": ["A document with this value already exists."]}
        for r in responses
        if r.status_code == 409
    )

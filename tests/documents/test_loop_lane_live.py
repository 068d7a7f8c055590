"""`serve` answers document requests on its event loop (core.loop_lane): a real server, real sockets.

The server gets one request thread. A chunked upload whose body stops arriving holds it (the view
reads the body while it arrives), so a request that needs a thread waits: the requests that are
answered meanwhile were answered on the loop."""

from __future__ import annotations

import socket
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from tests.contract import live

pytestmark = pytest.mark.live

POSTS = 300
# SQLite whatever the suite's database: the loop lane exists only there.
ON_SQLITE = {"DATABASE_URL": None, "REDIS_URL": None, "CELERY_TASK_ALWAYS_EAGER": None}


@pytest.fixture(scope="module")
def one_thread_server(tmp_path_factory):
    overrides = {"REQUEST_THREADS": "1", **ON_SQLITE}
    with live.running(tmp_path_factory.mktemp("loop-lane") / "data", overrides) as server:
        yield server


@pytest.fixture(scope="module")
def project(one_thread_server):
    made = live.make_project(one_thread_server.url, "Loop lane")
    live.create_collection(
        made,
        {"name": "posts", "fields": {"title": {"type": "string"}, "score": {"type": "number"}}},
    )
    with httpx.Client(base_url=made.url, headers={"X-API-Key": made.secret}, timeout=30) as http:
        for start in range(0, POSTS, 50):
            operations = [
                {"method": "POST", "path": "/collections/posts/documents", "body": {"title": f"p{n}", "score": n}}
                for n in range(start, start + 50)
            ]
            answer = http.post("/api/v1/batch", json={"requests": operations})
            assert answer.status_code == 200, answer.text[:400]
        made.first_id = http.get("/api/v1/collections/posts/documents", params={"limit": 1}).json()["results"][0]["id"]
    return made


class HeldUpload:
    """A chunked upload that sends its headers and one chunk, then nothing: it holds a request thread."""

    def __init__(self, url: str, key: str):
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        head = (
            f"POST /api/v1/files?name=held.bin HTTP/1.1\r\nHost: {parts.netloc}\r\nX-API-Key: {key}\r\n"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        self.sock.sendall(head.encode() + b"4\r\nheld\r\n")

    def release(self) -> None:
        self.sock.sendall(b"0\r\n\r\n")
        self.sock.recv(65536)  # the answer: the thread is free again
        self.sock.close()


def test_document_requests_are_answered_while_the_only_request_thread_is_held(project):
    held = HeldUpload(project.url, project.secret)
    try:
        with httpx.Client(base_url=project.url, headers={"X-API-Key": project.secret}, timeout=3) as http:
            # The premise: a batch needs the held thread, so it is not answered.
            with pytest.raises(httpx.ReadTimeout):
                http.post(
                    "/api/v1/batch", json={"requests": [{"method": "GET", "path": "/collections/posts/documents"}]}
                )
            by_id = http.get(f"/api/v1/collections/posts/documents/{project.first_id}")
            assert by_id.status_code == 200 and by_id.json()["id"] == project.first_id
            page = http.get("/api/v1/collections/posts/documents", params={"where": '{"score": {"$gte": 290}}'})
            assert page.status_code == 200
            assert sorted(doc["score"] for doc in page.json()["results"]) == list(range(290, POSTS))
            missing = http.get("/api/v1/collections/posts/documents/nosuchdocument0000")
            assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
            counted = http.get("/api/v1/collections/posts/documents", params={"count": "true", "limit": "0"})
            assert counted.status_code == 200 and counted.json()["count"] == POSTS
            made = http.post("/api/v1/collections/posts/documents", json={"title": "on the loop", "score": 1000})
            assert made.status_code == 201, made.text[:400]
            path = f"/api/v1/collections/posts/documents/{made.json()['id']}"
            changed = http.patch(path, json={"score": 1001})
            assert changed.status_code == 200 and changed.json()["score"] == 1001
            invalid = http.patch(path, json={"score": "not a number"})
            assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "validation_failed"
            assert http.delete(path).status_code == 204
            assert http.get(path).status_code == 404
    finally:
        held.release()


def test_a_write_that_meets_the_write_lock_waits_on_a_thread_while_the_loop_answers_reads(project, one_thread_server):
    # Another process holds SQLite's write lock: the create's attempt on the loop fails at once,
    # the create waits for the lock on the request thread, reads are answered meanwhile, and the
    # document is written once.
    database = one_thread_server.env["BASALT_DATA_DIR"] + "/basalt.sqlite3"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with httpx.Client(base_url=project.url, headers={"X-API-Key": project.secret}, timeout=30) as http:
        with ThreadPoolExecutor(1) as pool:
            creating = pool.submit(
                http.post, "/api/v1/collections/posts/documents", json={"title": "after the lock", "score": 5000}
            )
            time.sleep(0.5)
            assert not creating.done()
            started = time.monotonic()
            assert http.get(f"/api/v1/collections/posts/documents/{project.first_id}").status_code == 200
            assert time.monotonic() - started < 2
            holder.execute("ROLLBACK")
            holder.close()
            made = creating.result(timeout=25)
        assert made.status_code == 201, made.text[:400]
        same = http.get("/api/v1/collections/posts/documents", params={"where": '{"score": 5000}', "count": "true"})
        assert same.json()["count"] == 1


def test_a_find_past_the_loops_budget_is_answered_from_a_request_thread(tmp_path):
    # A budget of 1 ms: a regular expression over every post runs past it, leaves the loop, and the
    # whole request runs again on the thread; the client sees one ordinary answer.
    with live.running(tmp_path / "data", {"SERVE_LOOP_BUDGET_MS": "1", **ON_SQLITE}) as server:
        made = live.make_project(server.url, "Loop budget")
        live.create_collection(made, {"name": "notes", "fields": {"text": {"type": "string"}}})
        with httpx.Client(base_url=made.url, headers={"X-API-Key": made.secret}, timeout=30) as http:
            for start in range(0, 2000, 100):
                operations = [
                    {"method": "POST", "path": "/collections/notes/documents", "body": {"text": f"note {n:05d} " * 20}}
                    for n in range(start, start + 100)
                ]
                assert http.post("/api/v1/batch", json={"requests": operations}).status_code == 200
            where = '{"text": {"$regex": "note 0(19|07)99"}}'
            found = http.get("/api/v1/collections/notes/documents", params={"where": where, "count": "true"})
            assert found.status_code == 200, found.text[:400]
            assert found.json()["count"] == 2
            assert sorted(doc["text"][:10] for doc in found.json()["results"]) == ["note 00799", "note 01999"]
        assert "Traceback" not in server.log_tail()

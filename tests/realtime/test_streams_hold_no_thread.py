"""Open SSE streams do not take the server's request threads: with two request threads and more
streams than that open, API calls are still answered (before: every other request waited for ever,
the cause of the console live test's timeouts on PostgreSQL, whose pool gives `serve` two threads)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.contract import live

from .conftest import OPEN, App, make_live_project
from .test_sse import SseClient

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def narrow_server(tmp_path_factory):
    started = live.start(tmp_path_factory.mktemp("narrow") / "data", {"REQUEST_THREADS": "2"})
    try:
        yield started
    finally:
        live.stop(started)


def test_more_streams_than_request_threads_leave_the_api_answering(narrow_server):
    app = App(make_live_project(narrow_server.url))
    app.collection({"name": "posts", "fields": {"title": {"type": "string"}}, "permissions": OPEN})
    streams = [SseClient(app.url, {"X-API-Key": app.pk}) for _ in range(4)]
    try:
        for stream in streams:
            assert stream.next("connected")[1]["connection_id"]
        started = time.monotonic()
        with httpx.Client(base_url=app.url, headers={"X-API-Key": app.sk}, timeout=15) as http:
            for index in range(5):
                made = http.post("/api/v1/collections/posts/documents", json={"title": f"t{index}"})
                assert made.status_code == 201, made.text
            assert http.get("/api/v1/collections/posts/documents").json()["results"]
        assert time.monotonic() - started < 10
    finally:
        for stream in streams:
            stream.close()

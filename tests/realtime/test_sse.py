"""Server-Sent Events against the live server: stream + POST, the same events, Last-Event-ID resume."""

from __future__ import annotations

import json
import queue
import threading

import httpx
import pytest

from .conftest import OPEN

pytestmark = pytest.mark.live

POSTS = {"name": "posts", "fields": {"title": {"type": "string"}}, "permissions": OPEN, "default_acl": "public"}


class SseClient:
    """A minimal real SSE client: reads the stream on a thread, parses `id:`/`data:` frames."""

    def __init__(self, url: str, headers: dict, params: dict | None = None):
        self.events: queue.Queue = queue.Queue()
        self.client = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=None))
        self.response = self.client.send(
            self.client.build_request("GET", "/api/v1/realtime/sse", headers=headers, params=params), stream=True
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event_id, data = None, []
        try:
            for line in self.response.iter_lines():
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self.events.put((event_id, json.loads("\n".join(data))))
                    event_id, data = None, []
        except httpx.HTTPError:
            pass

    def next(self, op: str | None = None, timeout: float = 10) -> tuple[str | None, dict]:
        while True:
            event_id, message = self.events.get(timeout=timeout)
            if op is None or message.get("op") == op:
                return event_id, message

    def close(self) -> None:
        self.response.close()
        self.client.close()


def test_sse_stream_carries_the_same_events_and_resumes_with_last_event_id(app):
    """Subscribe by POST, receive events with `id: <seq>`, reconnect with Last-Event-ID and miss nothing."""
    app.collection(POSTS)
    user = app.signup()
    headers = {"X-API-Key": app.pk, "Authorization": f"Bearer {user['access_token']}"}
    sse = SseClient(app.url, headers)
    try:
        assert sse.response.status_code == 200
        assert sse.response.headers["content-type"].startswith("text/event-stream")
        _, hello = sse.next("connected")
        conn_id = hello["connection_id"]
        post = httpx.post(
            f"{app.url}/api/v1/realtime/sse/{conn_id}",
            headers=headers,
            json={"op": "subscribe", "id": "s", "collection": "posts"},
            timeout=30,
        )
        assert post.status_code == 202
        sse.next("subscribed")
        first = app.ok("POST", "/collections/posts/documents", {"title": "one"}, 201)
        event_id, event = sse.next("event")
        assert event["document"] == app.ok("GET", f"/collections/posts/documents/{first['id']}")
        assert event_id == event["seq"]
        # A bad message is answered on the stream, and the POST itself is accepted.
        assert (
            httpx.post(
                f"{app.url}/api/v1/realtime/sse/{conn_id}", headers=headers, content=b"{nope", timeout=30
            ).status_code
            == 202
        )
        assert sse.next("error")[1]["error"]["code"] == "invalid_json"
        # Another key (another project's, or none) cannot drive this stream.
        assert (
            httpx.post(
                f"{app.url}/api/v1/realtime/sse/{conn_id}",
                headers={"X-API-Key": app.sk},
                json={"op": "ping"},
                timeout=30,
            ).status_code
            == 404
        )
    finally:
        sse.close()
    missed = [app.ok("POST", "/collections/posts/documents", {"title": f"m{i}"}, 201)["id"] for i in range(3)]
    resumed = SseClient(app.url, {**headers, "Last-Event-ID": event_id}, {"connection_id": conn_id})
    try:
        resumed.next("connected")
        got = [resumed.next("event")[1]["document"]["id"] for _ in range(3)]
        assert got == missed
        live = app.ok("POST", "/collections/posts/documents", {"title": "live"}, 201)
        assert resumed.next("event")[1]["document"]["id"] == live["id"]
    finally:
        resumed.close()


def test_sse_refuses_bad_keys_and_tokens_with_json_errors(app):
    assert httpx.get(f"{app.url}/api/v1/realtime/sse", timeout=30).status_code == 401
    response = httpx.get(
        f"{app.url}/api/v1/realtime/sse", headers={"X-API-Key": app.pk, "Authorization": "Bearer x.y.z"}, timeout=30
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert (
        httpx.post(
            f"{app.url}/api/v1/realtime/sse/unknownconnection",
            headers={"X-API-Key": app.pk},
            json={"op": "ping"},
            timeout=30,
        ).status_code
        == 404
    )


def test_sse_streams_belong_to_their_project(app, server):
    """Another project's keys can neither drive a stream nor see its events; its collections are not ours."""
    from .conftest import App, make_live_project

    app.collection(POSTS)
    other = App(make_live_project(server.url))
    other.collection(POSTS)
    sse = SseClient(app.url, {"X-API-Key": app.pk})
    try:
        conn_id = sse.next("connected")[1]["connection_id"]
        for key in (other.pk, other.sk):
            response = httpx.post(
                f"{app.url}/api/v1/realtime/sse/{conn_id}",
                headers={"X-API-Key": key},
                json={"op": "subscribe", "id": "s", "collection": "posts"},
                timeout=30,
            )
            assert response.status_code == 404
        assert (
            httpx.post(
                f"{app.url}/api/v1/realtime/sse/{conn_id}",
                headers={"X-API-Key": app.pk},
                json={"op": "subscribe", "id": "s", "collection": "posts"},
                timeout=30,
            ).status_code
            == 202
        )
        sse.next("subscribed")
        other.ok("POST", "/collections/posts/documents", {"title": "theirs"}, 201)
        ours = app.ok("POST", "/collections/posts/documents", {"title": "ours"}, 201)
        assert sse.next("event")[1]["document"]["id"] == ours["id"]
    finally:
        sse.close()

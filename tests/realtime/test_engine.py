"""The engine in-process with Channels' WebsocketCommunicator: commit-only delivery, retention, resync."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient

from basalt.documents import changefeed
from basalt.documents.models import ChangeLogEntry
from basalt.realtime.hub import publish
from basalt.realtime.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)

APP = URLRouter(websocket_urlpatterns)
POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string", "max_length": 10}},
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update", "delete")},
    "default_acl": "public",
}


@pytest.fixture(autouse=True)
def _engine_thread_keeps_no_connection():
    """After each scenario the engine's database thread holds no connection: one it kept stayed checked
    out of the pool, and PostgreSQL could not drop the test database at the end of the run."""
    from asgiref.sync import SyncToAsync
    from django.db import connections

    yield

    def held() -> list[str]:
        # An in-memory SQLite test database is never closed by design (closing would drop it).
        return [
            c.alias
            for c in connections.all(initialized_only=True)
            if c.connection is not None and not (c.vendor == "sqlite" and c.is_in_memory_db())
        ]

    assert SyncToAsync.single_thread_executor.submit(held).result() == []


@pytest.fixture
def posts(project):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    assert client.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    return client


async def _open(key: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(APP, f"/api/v1/realtime?apikey={key}")
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def _subscribe(communicator, **options) -> dict:
    await communicator.send_json_to({"op": "subscribe", "id": "s", "collection": "posts", **options})
    return await communicator.receive_json_from(timeout=10)


def test_a_rolled_back_write_sends_nothing(project, posts):
    """A transactional batch that fails sends no event for the write it rolled back; the next commit does."""

    async def scenario():
        communicator = await _open(project.publishable)
        assert (await _subscribe(communicator))["op"] == "subscribed"
        batch = {
            "transaction": True,
            "requests": [
                {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": "ok"}},
                {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": "x" * 50}},
            ],
        }
        response = await sync_to_async(posts.post)("/api/v1/batch", batch, format="json")
        assert response.status_code == 400
        committed = await sync_to_async(posts.post)(
            "/api/v1/collections/posts/documents", {"title": "real"}, format="json"
        )
        event = await communicator.receive_json_from(timeout=10)
        assert event["document"]["id"] == committed.json()["id"]
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()

    asyncio.run(scenario())


def test_since_outside_retention_answers_resync_required(project, posts):
    """A position whose next rows were trimmed or are older than the retention gets resync_required."""
    for i in range(3):
        assert posts.post("/api/v1/collections/posts/documents", {"title": f"t{i}"}, format="json").status_code == 201

    async def scenario():
        communicator = await _open(project.publishable)
        replay = await _subscribe(communicator, since="1")
        assert replay["op"] == "subscribed"
        assert [(await communicator.receive_json_from(timeout=10))["seq"] for _ in range(2)] == ["2", "3"]
        await sync_to_async(ChangeLogEntry.objects.filter(project_id=project.project.id, seq=2).update)(
            created_at=timezone.now() - timedelta(hours=25)
        )
        await communicator.send_json_to({"op": "subscribe", "id": "old", "collection": "posts", "since": "1"})
        refused = await communicator.receive_json_from(timeout=10)
        assert (refused["op"], refused["id"], refused["error"]["code"]) == ("error", "old", "resync_required")
        await sync_to_async(ChangeLogEntry.objects.filter(project_id=project.project.id, seq=2).delete)()
        await communicator.send_json_to({"op": "subscribe", "id": "gap", "collection": "posts", "since": "1"})
        assert (await communicator.receive_json_from(timeout=10))["error"]["code"] == "resync_required"
        await communicator.disconnect()

    asyncio.run(scenario())


def test_a_client_past_its_send_buffer_is_told_slow_consumer_and_closed(project, posts, settings):
    """Memory per connection is bounded: past REALTIME_SEND_BUFFER queued messages the client gets
    slow_consumer and a close (4008), while a replay larger than the buffer is not held against it."""
    settings.REALTIME_SEND_BUFFER = 5
    for i in range(12):
        assert posts.post("/api/v1/collections/posts/documents", {"title": f"t{i}"}, format="json").status_code == 201

    async def scenario():
        replaying = await _open(project.publishable)
        assert (await _subscribe(replaying, since="0"))["op"] == "subscribed"
        assert [(await replaying.receive_json_from(timeout=10))["seq"] for _ in range(12)] == [
            str(n) for n in range(1, 13)
        ]
        batch = {
            "transaction": True,
            "requests": [
                {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": f"b{i}"}}
                for i in range(20)
            ],
        }
        # Unannounced, the batch's 20 rows reach the engine together through its change-log poll:
        # a backlog this client cannot take before the bound (on either channel layer).
        changefeed.unregister(publish)
        try:
            assert (await sync_to_async(posts.post)("/api/v1/batch", batch, format="json")).status_code == 200
        finally:
            changefeed.register(publish)
        messages = []
        while True:
            output = await replaying.receive_output(timeout=10)
            if output["type"] == "websocket.close":
                break
            messages.append(output["text"])
        assert '"slow_consumer"' in messages[-1]
        assert output["code"] == 4008

    asyncio.run(scenario())


def test_both_websocket_faces_join_and_leave_the_hub_through_one_consumer(project, posts):
    """The native socket and a Parse LiveQuery socket (one HubConsumer) are in the process's hub
    while open, and gone from it, subscriptions included, once closed."""
    from basalt.parse.livequery import ParseLiveQueryConsumer
    from basalt.realtime.consumers import HubConsumer, RealtimeConsumer
    from basalt.realtime.hub import current_hub
    from basalt.routing import websocket_urlpatterns as all_routes

    assert issubclass(RealtimeConsumer, HubConsumer) and issubclass(ParseLiveQueryConsumer, HubConsumer)

    async def scenario():
        hub = current_hub()
        before = set(hub.connections.values())
        native = await _open(project.publishable)
        assert (await _subscribe(native))["op"] == "subscribed"
        parse = WebsocketCommunicator(URLRouter(all_routes), "/parse")
        assert (await parse.connect())[0]
        await parse.send_json_to(
            {"op": "connect", "applicationId": project.project.ref, "javascriptKey": project.publishable}
        )
        assert (await parse.receive_json_from(timeout=10))["op"] == "connected"
        query = {"className": "Posts", "where": {}}
        await parse.send_json_to({"op": "subscribe", "requestId": 1, "query": query})
        assert (await parse.receive_json_from(timeout=10))["op"] == "subscribed"
        opened = set(hub.connections.values()) - before
        assert sorted(conn.transport for conn in opened) == ["parse-livequery", "websocket"]
        assert all(len(conn.subs) == 1 for conn in opened)
        await native.disconnect()
        await parse.disconnect()
        for _ in range(100):
            if not set(hub.connections.values()) & opened:
                break
            await asyncio.sleep(0.05)
        assert not set(hub.connections.values()) & opened
        assert all(conn.closed for conn in opened)
        feeds = [feed for feed in hub.projects.values() if feed.project_id == project.project.id]
        assert not [sub for feed in feeds for subs in feed.subs.values() for sub in subs.values() if sub.conn in opened]

    asyncio.run(scenario())


def test_a_message_nested_past_the_body_limit_is_an_error_op_and_the_connection_lives(project):
    """A presence 300 levels deep was read (orjson reads 1024) but could not be rendered (254): the
    TypeError closed the connection. Messages are refused past 64 levels like request bodies."""
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"realtime": {"channels": {"lobby": {"join": ["*"], "broadcast": ["*"]}}}})
    deep = "[" * 300 + "]" * 300

    async def scenario():
        communicator = await _open(project.publishable)
        for text in (
            '{"op": "join", "channel": "lobby", "presence": {"x": ' + deep + "}}",
            '{"op": "broadcast", "channel": "lobby", "event": "e", "payload": ' + deep + "}",
        ):
            await communicator.send_to(text_data=text)
            answer = await communicator.receive_json_from(timeout=10)
            assert answer["op"] == "error" and answer["error"]["code"] == "invalid_json", answer
        await communicator.send_json_to({"op": "ping"})
        assert (await communicator.receive_json_from(timeout=10))["op"] == "pong"
        await communicator.disconnect()

    asyncio.run(scenario())

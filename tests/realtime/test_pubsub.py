"""Announcements over Redis pub/sub (production): one PUBLISH per batch on the project's channel,
hubs subscribed to the projects they serve, with the change-log poll switched off so that only
the announcement can carry an event. In process, on the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil

import pytest
import redis
import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from basalt.documents.changefeed import Change
from basalt.realtime import announce, changes, hub
from basalt.realtime.routing import websocket_urlpatterns
from tests.contract import live

from .conftest import Redis

APP = URLRouter(websocket_urlpatterns)
POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string"}},
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update", "delete")},
    "default_acl": "public",
}
needs_redis = pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (REDIS_URL)")


@pytest.fixture
def posts(project, monkeypatch):
    monkeypatch.setattr(hub, "POLL_SECONDS", 3600.0)  # only an announcement can carry an event
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    assert client.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    return client


def create(client: APIClient, title: str) -> dict:
    response = client.post("/api/v1/collections/posts/documents", {"title": title}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


async def subscriber(project) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(APP, f"/api/v1/realtime?apikey={project.publishable}")
    assert (await communicator.connect())[0]
    await communicator.send_json_to({"op": "subscribe", "id": "s", "collection": "posts"})
    assert (await communicator.receive_json_from(timeout=10))["op"] == "subscribed"
    return communicator


async def listening(url: str, channel: str, timeout: float = 15.0) -> None:
    """Until a hub has subscribed to `channel`, and a moment more for it to read Redis' confirmation."""
    client = aioredis.Redis.from_url(url)
    try:
        async with asyncio.timeout(timeout):
            while not (await client.pubsub_numsub(channel))[0][1]:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    finally:
        await client.aclose()


async def kill(url: str, name: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        killed = [await client.client_kill_filter(_id=c["id"]) for c in await client.client_list() if c["name"] == name]
        assert killed, name
    finally:
        await client.aclose()


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_create_is_one_publish_on_its_projects_channel_carrying_the_row(project, posts):
    listener = redis.Redis.from_url(announce.redis_url()).pubsub()
    listener.subscribe(announce.project_channel(project.project.id))
    try:
        assert listener.get_message(timeout=5)["type"] == "subscribe"
        made = create(posts, "hello")
        message = listener.get_message(timeout=10)
        (row,) = announce.decode(project.project.id, message["data"])
        assert (row.document_id, row.type, row.after["title"]) == (made["id"], "create", "hello")
        assert listener.get_message(timeout=0.5) is None
    finally:
        listener.close()


@needs_redis
def test_several_projects_batches_go_in_one_pipelined_write_in_queue_order():
    projects = {announce.project_channel(project).encode(): project for project in (990001, 990002)}
    listener = redis.Redis.from_url(announce.redis_url()).pubsub()
    listener.subscribe(*projects)
    order = [(990001, 1), (990001, 2), (990002, 1), (990001, 3)]
    rows = [Change(p, s, "posts", f"d{s}", "create", None, {"n": s}, s) for p, s in order]
    try:
        assert [listener.get_message(timeout=5)["type"] for _ in projects] == ["subscribe", "subscribe"]
        messages = announce.announcements([announce.entry(row) for row in rows])
        assert len(messages) == 3 and announce.publisher.publish(messages)
        heard = []
        for _ in messages:
            message = listener.get_message(timeout=5)
            heard += announce.decode(projects[message["channel"]], message["data"])
        assert heard == rows
    finally:
        listener.close()


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_hub_hears_its_own_installations_channel_only_and_shrugs_off_hostile_payloads(
    project, posts, monkeypatch, caplog
):
    """A committed row reaches the subscriber when published on the project's channel, not when
    published under another installation's prefix; garbage on the channel is logged and ignored,
    and the hub goes on."""
    monkeypatch.setattr(announce.publisher, "send", lambda change: None)  # this test publishes by hand
    channel = announce.project_channel(project.project.id)
    foreign = "rt.0000000000" + channel.removeprefix(announce.group_prefix())
    url = announce.redis_url()
    publisher = aioredis.Redis.from_url(url)

    async def scenario():
        communicator = await subscriber(project)
        await listening(url, channel)
        made = await sync_to_async(create)(posts, "real")
        (row,) = await sync_to_async(changes.read_range)(project.project.id, 0)
        payload = b"[" + announce.encode_row(row) + b"]"
        await publisher.publish(foreign, payload)
        assert await communicator.receive_nothing(timeout=0.5)
        hostile = [
            b"not json",
            b"[" * 100_000,
            b"x" * (announce.MAX_PAYLOAD_BYTES + 1),
            payload.replace(b'"t":"create"', b'"t":7'),
            payload.replace(f'"p":{project.project.id}'.encode(), b'"p":999999'),
        ]
        for garbage in hostile:
            await publisher.publish(channel, garbage)
        assert await communicator.receive_nothing(timeout=0.5)
        await publisher.publish(channel, payload)
        event = await communicator.receive_json_from(timeout=5)
        assert (event["op"], event["document"]["id"], event["seq"]) == ("event", made["id"], str(row.seq))
        await publisher.publish(channel, payload)  # heard twice, delivered once
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()
        await publisher.aclose()

    with caplog.at_level(logging.WARNING, logger="basalt.realtime"):
        asyncio.run(scenario())
    assert "ignored a malformed announcement" in caplog.text


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary")
@pytest.mark.django_db(transaction=True)
def test_hubs_resubscribe_after_a_redis_restart_and_writes_never_wait_for_redis(
    project, posts, settings, caplog, tmp_path
):
    """Redis (the test's own, with a password) stops and starts again: the write made meanwhile
    succeeds, the publisher's warning names no secret, the hub subscribes again and reads the row it
    missed from the change log at once, and later rows come through pub/sub again (poll off)."""
    password = "pubsub-secret-8c1f"
    own = Redis(live.free_port(), "--requirepass", password)
    own.start()
    url = f"redis://:{password}@127.0.0.1:{own.port}/0"
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    }
    channel = announce.project_channel(project.project.id)

    async def titles(communicator, count: int) -> list[str]:
        return [(await communicator.receive_json_from(timeout=10))["document"]["title"] for _ in range(count)]

    async def scenario():
        communicator = await subscriber(project)
        await listening(url, channel)
        await sync_to_async(create)(posts, "before")
        assert await titles(communicator, 1) == ["before"]

        await asyncio.to_thread(own.stop)
        await sync_to_async(create)(posts, "while down")
        await asyncio.sleep(0.5)  # the publisher tries, fails and says so
        await asyncio.to_thread(own.start)
        await listening(url, channel)
        assert await titles(communicator, 1) == ["while down"]

        await asyncio.sleep(announce.RETRY_SECONDS)  # the publisher's pause after its failure
        await sync_to_async(create)(posts, "after")
        assert await titles(communicator, 1) == ["after"]

        # Connections dropped under a running Redis: the publisher's (found broken at its next
        # send) and the hub's subscriber (which reconnects and subscribes again).
        for name in ("basalt-rt-publisher", "basalt-rt-hub"):
            await kill(url, name)
            await listening(url, channel)
            await sync_to_async(create)(posts, f"{name} killed")
            assert await titles(communicator, 1) == [f"{name} killed"]
        await communicator.disconnect()

    try:
        with caplog.at_level(logging.WARNING, logger="basalt.realtime"):
            asyncio.run(scenario())
    finally:
        own.stop()
    assert "could not announce" in caplog.text and "subscription lost" in caplog.text
    assert password not in caplog.text

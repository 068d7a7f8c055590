"""How committed rows travel to the realtime processes: queued rows of a project go together.

Rows queued while a PUBLISH is in flight travel as one message; each still reaches subscribers
once, in order, without waiting for the change-log poll. What a hub hears is checked against the
publisher's shape (anyone who may PUBLISH on the Redis can write on the channel).
"""

from __future__ import annotations

import asyncio

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from basalt.documents.changefeed import Change
from basalt.realtime import announce, hub
from basalt.realtime.routing import websocket_urlpatterns

APP = URLRouter(websocket_urlpatterns)
ROW = {"p": 3, "s": 9, "c": "posts", "d": "d1", "t": "update", "b": None, "a": {"title": "b"}, "r": 41}
POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string"}},
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update", "delete")},
    "default_acl": "public",
}


def _row(project: int, seq: int, size: int = 100) -> tuple[str, bytes, Change]:
    change = Change(project, seq, "posts", f"d{seq}", "create", None, {"title": "t"}, seq)
    return announce.project_channel(project), orjson.dumps({"p": project, "s": seq}).ljust(size), change


def _rows(payload: bytes) -> list[int]:
    return [row["s"] for row in orjson.loads(payload)]


def test_a_row_alone_goes_alone():
    ((channel, payload, sent),) = announce.announcements([_row(1, 7)])
    assert channel == announce.project_channel(1) and orjson.loads(payload) == [{"p": 1, "s": 7}]
    assert [c.seq for c in sent] == [7]


def test_consecutive_rows_of_a_project_go_together_in_order_within_the_caps():
    queued = [_row(1, 1), _row(1, 2), _row(2, 1), _row(1, 3), _row(1, 4)]
    messages = announce.announcements(queued)
    assert [_rows(payload) for _, payload, _ in messages] == [[1, 2], [1], [3, 4]]
    channels = [announce.project_channel(p) for p in (1, 2, 1)]
    assert [channel for channel, _, _ in messages] == channels

    many = announce.announcements([_row(1, seq) for seq in range(announce.MAX_ROWS_PER_MESSAGE + 1)])
    assert [len(_rows(payload)) for _, payload, _ in many] == [announce.MAX_ROWS_PER_MESSAGE, 1]
    assert all(len(payload) <= announce.MAX_PAYLOAD_BYTES for _, payload, _ in many)

    half = announce.MAX_INLINE_BYTES // 2
    by_size = announce.announcements([_row(1, 1, half), _row(1, 2, half), _row(1, 3, 10)])
    assert [[c.seq for c in sent] for _, _, sent in by_size] == [[1, 2], [3]]
    assert all(len(payload) <= announce.MAX_PAYLOAD_BYTES for _, payload, _ in by_size)


def test_what_the_publisher_writes_the_hub_reads_back_and_a_big_row_goes_as_its_position():
    small = Change(3, 9, "posts", "d1", "update", {"title": "a"}, {"title": "b"}, 41)
    big = Change(3, 10, "posts", "d2", "create", None, {"title": "x" * announce.MAX_INLINE_BYTES}, 42)
    ((_channel, payload, _sent),) = announce.announcements([announce.entry(small), announce.entry(big)])
    assert announce.decode(3, payload) == [small, Change(3, 10, "posts", "d2", "create", None, None, 42)]


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"{}",
        b"[]",
        b"[" * 5000 + b"]" * 5000,
        b'["' + b"x" * announce.MAX_PAYLOAD_BYTES + b'"]',
        orjson.dumps([{"p": 3, "s": 1}] * (announce.MAX_ROWS_PER_MESSAGE + 1)),
        orjson.dumps([{**ROW, "p": 4}]),  # another project's row on this project's channel
        orjson.dumps([{**ROW, "p": True}]),
        orjson.dumps([{**ROW, "s": "9"}]),
        orjson.dumps([{**ROW, "s": 0}]),
        orjson.dumps([{**ROW, "t": "drop"}]),
        orjson.dumps([{**ROW, "a": [1, 2]}]),
        orjson.dumps([{**ROW, "c": None}]),
        orjson.dumps([ROW, 7]),
        b'[{"p": 3, "s": 184467440737095516150}]',
        "[]".encode("utf-16"),
    ],
)
def test_anything_but_the_publishers_shape_is_refused(payload):
    with pytest.raises(ValueError):
        announce.decode(3, payload)
    assert announce.decode(3, orjson.dumps([ROW]))[0].seq == 9


@pytest.mark.django_db(transaction=True)
def test_a_burst_of_committed_rows_reaches_a_subscriber_once_each_in_order_without_the_poll(project, monkeypatch):
    """Five rows committed at once (one transactional batch) arrive through the announcement alone:
    the change-log poll, which would otherwise cover a lost or misread message, is off."""
    monkeypatch.setattr(hub, "POLL_SECONDS", 3600.0)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    assert client.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201

    async def scenario():
        communicator = WebsocketCommunicator(APP, f"/api/v1/realtime?apikey={project.publishable}")
        assert (await communicator.connect())[0]
        await communicator.send_json_to({"op": "subscribe", "id": "s", "collection": "posts"})
        assert (await communicator.receive_json_from(timeout=10))["op"] == "subscribed"
        create = {"method": "POST", "path": "/api/v1/collections/posts/documents"}
        batch = {"transaction": True, "requests": [{**create, "body": {"title": f"n{i}"}} for i in range(5)]}
        response = await sync_to_async(client.post)("/api/v1/batch", batch, format="json")
        assert response.status_code == 200, response.content
        events = [await communicator.receive_json_from(timeout=5) for _ in range(5)]
        assert [e["document"]["title"] for e in events] == [f"n{i}" for i in range(5)]
        assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
        assert await communicator.receive_nothing(timeout=0.5)
        await communicator.disconnect()

    asyncio.run(scenario())

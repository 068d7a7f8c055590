"""How committed rows travel to the realtime processes: queued rows of a project go together.

A group send over Redis costs several round trips whatever it carries, so rows queued while one
is in flight travel as one `rt.changes` message; each still reaches subscribers once, in order,
without waiting for the change-log poll.
"""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from basalt.documents.changefeed import Change
from basalt.realtime import hub
from basalt.realtime.routing import websocket_urlpatterns

APP = URLRouter(websocket_urlpatterns)
POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string"}},
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update", "delete")},
    "default_acl": "public",
}


def _row(project: int, seq: int, size: int = 100) -> tuple[str, dict, int, Change]:
    change = Change(project, seq, "posts", f"d{seq}", "create", None, {"title": "t"}, seq)
    return hub.project_group(project), {"p": project, "s": seq}, size, change


def test_a_row_alone_keeps_the_single_row_message():
    ((group, message, sent),) = hub.announcements([_row(1, 7)])
    assert group == hub.project_group(1) and message == {"type": "rt.change", "p": 1, "s": 7}
    assert [c.seq for c in sent] == [7]


def test_consecutive_rows_of_a_project_go_together_in_order_within_the_caps():
    queued = [_row(1, 1), _row(1, 2), _row(2, 1), _row(1, 3), _row(1, 4)]
    messages = hub.announcements(queued)
    assert [(m["type"], [r["s"] for r in m.get("rows", [m])]) for _, m, _ in messages] == [
        ("rt.changes", [1, 2]),
        ("rt.change", [1]),
        ("rt.changes", [3, 4]),
    ]
    assert [g for g, _, _ in messages] == [hub.project_group(1), hub.project_group(2), hub.project_group(1)]

    many = hub.announcements([_row(1, seq) for seq in range(hub.MAX_ROWS_PER_MESSAGE + 1)])
    assert [len(m.get("rows", [m])) for _, m, _ in many] == [hub.MAX_ROWS_PER_MESSAGE, 1]

    half = hub.MAX_INLINE_BYTES // 2
    by_size = hub.announcements([_row(1, 1, half), _row(1, 2, half), _row(1, 3, 10)])
    assert [[c.seq for c in sent] for _, _, sent in by_size] == [[1, 2], [3]]


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

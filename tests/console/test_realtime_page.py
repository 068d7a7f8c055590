"""The console's Realtime page shows what the realtime processes hold for the project, nothing of others."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from basalt.realtime import overview
from basalt.realtime.hub import current_hub
from basalt.realtime.routing import websocket_urlpatterns

pytestmark = pytest.mark.django_db(transaction=True)


def test_realtime_page_lists_live_subscriptions_and_channel_presence(owner_client, project, make_project):
    secret = APIClient()
    secret.credentials(HTTP_X_API_KEY=project.secret)
    definition = {"name": "posts", "fields": {"title": {"type": "string"}}, "permissions": {"find": ["*"]}}
    assert secret.post("/api/v1/schema/collections", definition, format="json").status_code == 201
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"realtime": {"channels": {"room:*": {"join": ["*"], "broadcast": ["*"]}}}})
    other = make_project("Other")

    async def scenario():
        app = URLRouter(websocket_urlpatterns)
        ours = WebsocketCommunicator(app, f"/api/v1/realtime?apikey={project.publishable}")
        theirs = WebsocketCommunicator(app, f"/api/v1/realtime?apikey={other.publishable}")
        assert (await ours.connect())[0] and (await theirs.connect())[0]
        await ours.send_json_to({"op": "subscribe", "id": "s", "collection": "posts"})
        assert (await ours.receive_json_from(timeout=10))["op"] == "subscribed"
        await ours.send_json_to({"op": "join", "channel": "room:lobby", "presence": {"name": "ada"}})
        assert (await ours.receive_json_from(timeout=10))["op"] == "presence"
        hub = current_hub()
        await sync_to_async(overview.report)("test-hub", hub.stats())
        page = await sync_to_async(owner_client.get)(f"/console/p/{project.project.ref}/realtime")
        await ours.disconnect()
        await theirs.disconnect()
        return page

    page = asyncio.run(scenario())
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="rt-connections">1<' in html
    assert '<td class="mono">posts</td><td>1</td>' in html
    assert "room:lobby" in html and "ada" in html

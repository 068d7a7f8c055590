"""Channels over a real WebSocket: per-pattern join/broadcast rules, presence, limits, project isolation."""

from __future__ import annotations

import pytest

from .conftest import App, connect, make_live_project, run

pytestmark = pytest.mark.live

RULES = {
    "realtime": {
        "channels": {
            "room:*": {"join": ["authenticated"], "broadcast": ["role:staff"]},
            "lobby": {"join": ["*"], "broadcast": ["*"]},
        }
    }
}


async def _signed_in(app: App, user: dict):
    client = await connect(app.ws_url()).__aenter__()
    await client.send({"op": "auth", "access_token": user["access_token"]})
    await client.expect("authenticated")
    return client


def test_join_broadcast_and_presence_follow_the_project_rules(app, server):
    """Who may join and broadcast is the pattern's rule; members see joins, broadcasts and leaves."""
    app.settings(RULES)
    member, staff = app.signup(), app.signup()
    app.ok("POST", "/roles", {"name": "staff", "users": [staff["user"]["id"]]}, 201, key=app.sk)
    other = App(make_live_project(server.url))
    other.settings(RULES)

    async def scenario():
        async with connect(app.ws_url()) as anon:
            for message, code in [
                ({"op": "join", "channel": "room:1"}, "permission_denied"),
                ({"op": "join", "channel": "unmapped"}, "permission_denied"),
                ({"op": "join", "channel": "bad name!"}, "invalid_operation"),
                ({"op": "join", "channel": "lobby", "presence": {"x": "y" * 2000}}, "payload_too_large"),
                ({"op": "broadcast", "channel": "lobby", "event": "e", "payload": {}}, "invalid_operation"),
            ]:
                await anon.send(message)
                assert (await anon.expect("error"))["error"]["code"] == code, message
            a = await _signed_in(app, member)
            b = await _signed_in(app, staff)
            outsider = await _signed_in(other, other.signup())
            try:
                await a.send({"op": "join", "channel": "room:1", "presence": {"name": "a"}})
                first = await a.expect("presence", channel="room:1")
                assert [j["presence"] for j in first["joins"]] == [{"name": "a"}]
                await outsider.send({"op": "join", "channel": "room:1"})
                await outsider.expect("presence", channel="room:1")
                await b.send({"op": "join", "channel": "room:1", "presence": {"name": "b"}})
                listing = await b.expect("presence", channel="room:1")
                assert sorted(j["presence"]["name"] for j in listing["joins"]) == ["a", "b"]
                joined = await a.expect("presence", channel="room:1")
                assert [j["presence"] for j in joined["joins"]] == [{"name": "b"}]
                await a.send({"op": "broadcast", "channel": "room:1", "event": "typing", "payload": {"x": 1}})
                assert (await a.expect("error"))["error"]["code"] == "permission_denied"
                await b.send({"op": "broadcast", "channel": "room:1", "event": "typing", "payload": {"x": 2}})
                got = await a.expect("broadcast", channel="room:1")
                assert (got["event"], got["payload"]) == ("typing", {"x": 2})
                # The other project's room:1 is another room: nothing of ours reaches it.
                assert [m for m in await outsider.quiet(0.5) if m.get("op") != "pong"] == []
                await b.ws.close()
                left = await a.expect("presence", channel="room:1")
                assert [item["presence"] for item in left["leaves"]] == [{"name": "b"}]
                # Broadcasts are rate limited per connection (default 50/s).
                await a.send({"op": "join", "channel": "lobby"})
                await a.expect("presence", channel="lobby")
                for i in range(120):
                    await a.send({"op": "broadcast", "channel": "lobby", "event": "spam", "payload": i})
                limited = [m for m in await a.quiet(1.0) if m.get("op") == "error"]
                assert limited and all(m["error"]["code"] == "rate_limited" for m in limited)
                await a.send({"op": "ping"})
                await a.expect("pong")
            finally:
                for client in (a, b, outsider):
                    await client.ws.close()

    run(scenario())

"""Parse LiveQuery on a live server: the same events as the native protocol (T22, T4) and revocation (T5)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.realtime.conftest import PASSWORD, App, connect, run, server  # noqa: F401  (fixtures)
from tests.realtime.conftest import app as app  # noqa: F401, PLC0414

pytestmark = pytest.mark.django_db(transaction=False)

NOTES = {
    "name": "notes",
    "fields": {"title": {"type": "string"}, "internal": {"type": "string"}, "score": {"type": "number"}},
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
    "protected_fields": {"*": ["internal"]},
}


def parse_http(app: App, token: str | None = None, master: bool = False) -> httpx.Client:
    headers = {"X-Parse-Application-Id": app.project.ref}
    headers["X-Parse-Master-Key" if master else "X-Parse-REST-API-Key"] = app.sk if master else app.pk
    if token:
        headers["X-Parse-Session-Token"] = token
    return httpx.Client(base_url=app.url + "/parse", headers=headers, timeout=30)


def parse_login(app: App, user: dict) -> str:
    with parse_http(app) as http:
        answer = http.post("/login", json={"username": user["user"]["email"], "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        return answer.json()["sessionToken"]


def lq_url(app: App) -> str:
    return app.url.replace("http", "ws", 1) + "/parse"


async def lq_connect(client, app: App, token: str | None) -> None:
    message = {"op": "connect", "applicationId": app.project.ref, "javascriptKey": app.pk}
    if token:
        message["sessionToken"] = token
    await client.send(message)
    assert (await client.expect("connected"))["clientId"]


def test_livequery_events_match_native_events(app):
    """A Parse subscriber and a native subscriber (same user, same query) get the same events and fields."""
    app.collection(NOTES)
    user = app.signup()
    uid = user["user"]["id"]
    token = parse_login(app, user)

    async def scenario():
        async with connect(app.ws_url()) as native, connect(lq_url(app)) as parse:
            await native.send({"op": "auth", "access_token": user["access_token"]})
            await native.expect("authenticated")
            await native.subscribe("s", "notes", where={"score": {"$gt": 10}})
            await lq_connect(parse, app, token)
            await parse.send(
                {"op": "subscribe", "requestId": 7, "query": {"className": "Notes", "where": {"score": {"$gt": 10}}}}
            )
            await parse.expect("subscribed", requestId=7)
            mine = {uid: {"read": True, "write": True}}
            with parse_http(app, master=True) as http:
                hidden = http.post(
                    "/classes/Notes", json={"title": "other", "score": 50, "ACL": {"someone": {"read": True}}}
                )
                created = http.post("/classes/Notes", json={"title": "a", "internal": "x", "score": 20, "ACL": mine})
                oid = created.json()["objectId"]
                assert hidden.status_code == created.status_code == 201
                http.put(f"/classes/Notes/{oid}", json={"score": 30})
                http.put(f"/classes/Notes/{oid}", json={"score": 5})
                http.put(f"/classes/Notes/{oid}", json={"score": 40})
            app.ok("DELETE", f"/collections/notes/documents/{oid}", key=app.sk, status=204)
            native_events = await native.events("s", 5)
            parse_events = []
            while len(parse_events) < 5:
                message = await parse.next()
                if message.get("op") in ("create", "enter", "update", "leave", "delete"):
                    parse_events.append(message)
            assert (
                [e["type"] for e in native_events]
                == [e["op"] for e in parse_events]
                == ["create", "update", "leave", "enter", "delete"]
            )
            for n, p in zip(native_events, parse_events, strict=True):
                assert p["requestId"] == 7 and p["object"]["className"] == "Notes"
                assert p["object"]["objectId"] == n["document"]["id"] == oid
                assert p["object"].get("score") == n["document"].get("score")
                assert "internal" not in p["object"] and "internal" not in n["document"]
            assert not await parse.quiet(0.5)

    run(scenario())


def test_logout_stops_livequery_payloads(app):
    """After the session's logout (through either face), the Parse subscriber gets no more private payloads."""
    app.collection(NOTES)
    user = app.signup()
    uid = user["user"]["id"]
    token = parse_login(app, user)
    acl = {uid: {"read": True}}

    async def scenario():
        async with connect(lq_url(app)) as parse:
            await lq_connect(parse, app, token)
            await parse.send({"op": "subscribe", "requestId": 1, "query": {"className": "Notes", "where": {}}})
            await parse.expect("subscribed", requestId=1)
            app.ok("POST", "/collections/notes/documents", {"title": "before", "acl": acl}, 201, key=app.sk)
            assert (await parse.expect("create"))["object"]["title"] == "before"
            with parse_http(app, token=token) as http:
                assert http.post("/logout").status_code == 200
            await asyncio.sleep(1.0)
            app.ok("POST", "/collections/notes/documents", {"title": "after", "acl": acl}, 201, key=app.sk)
            error = await parse.expect("error")
            assert error["code"] == 209
            later = await parse.quiet(2.0)
            assert not [m for m in parse.seen if m.get("object", {}).get("title") == "after"]
            assert not [m for m in later if m.get("op") in ("create", "update", "enter")]

    run(scenario())


def test_livequery_protocol_errors(app):
    """Bad keys, messages before connect and bad queries are Parse-shaped errors on the socket."""
    app.collection(NOTES)

    async def scenario():
        async with connect(lq_url(app)) as parse:
            await parse.send({"op": "subscribe", "requestId": 1, "query": {"className": "Notes"}})
            assert (await parse.expect("error"))["code"] == 4
            await parse.send({"op": "connect", "applicationId": app.project.ref, "javascriptKey": "pk_wrong"})
            assert (await parse.expect("error"))["error"] == "Key in request is not valid"
            await lq_connect(parse, app, None)
            await parse.send(
                {"op": "subscribe", "requestId": 2, "query": {"className": "Notes", "where": {"x": {"$bad": 1}}}}
            )
            assert (await parse.expect("error", requestId=2))["code"] == 102
            await parse.send({"op": "subscribe", "requestId": 3, "query": {"className": "Nope"}})
            assert (await parse.expect("error", requestId=3))["code"] == 119
            await parse.send("not json")
            assert (await parse.expect("error"))["code"] == 1

    run(scenario())

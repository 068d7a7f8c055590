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
                assert "internal" not in p["object"] and "internal" not in n["document"]
                assert "previous" not in n  # the native protocol does not ask for the earlier state
            # Same contents, except that a Parse delete carries the object as it last was.
            assert [p["object"].get("score") for p in parse_events] == [20, 30, 5, 40, 40]
            assert [n["document"].get("score") for n in native_events] == [20, 30, 5, 40, None]
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


def test_livequery_original_and_deleted_object(app):
    """update/enter/leave carry `original` and a delete the last object, as Parse Server sends them;
    never a protected field, and never an earlier state the subscriber could not read."""
    app.collection(NOTES)
    user = app.signup()
    uid = user["user"]["id"]
    token = parse_login(app, user)
    mine = {uid: {"read": True, "write": True}}

    async def next_event(parse):
        while True:
            message = await parse.next()
            if message.get("op") in ("create", "enter", "update", "leave", "delete"):
                return message

    async def scenario():
        async with connect(lq_url(app)) as parse:
            await lq_connect(parse, app, token)
            query = {"className": "Notes", "where": {"score": {"$gt": 10}}}
            await parse.send({"op": "subscribe", "requestId": 3, "query": query})
            await parse.expect("subscribed", requestId=3)
            with parse_http(app, master=True) as http:
                oid = http.post("/classes/Notes", json={"title": "a", "internal": "s", "score": 20, "ACL": mine})
                oid = oid.json()["objectId"]
                created = await next_event(parse)
                assert created["op"] == "create" and "original" not in created
                http.put(f"/classes/Notes/{oid}", json={"score": 30, "title": "b"})
                update = await next_event(parse)
                assert update["op"] == "update"
                assert (update["object"]["score"], update["object"]["title"]) == (30, "b")
                assert (update["original"]["score"], update["original"]["title"]) == (20, "a")
                assert update["original"]["objectId"] == oid and update["original"]["className"] == "Notes"
                assert "internal" not in update["original"]
                http.put(f"/classes/Notes/{oid}", json={"score": 1})
                leave = await next_event(parse)
                assert leave["op"] == "leave" and leave["object"]["score"] == 1 and leave["original"]["score"] == 30
                http.put(f"/classes/Notes/{oid}", json={"score": 40})
                enter = await next_event(parse)
                assert enter["op"] == "enter" and enter["object"]["score"] == 40 and enter["original"]["score"] == 1
                http.delete(f"/classes/Notes/{oid}")
                deleted = await next_event(parse)
                assert deleted["op"] == "delete" and "original" not in deleted
                assert (deleted["object"]["objectId"], deleted["object"]["score"]) == (oid, 40)
                assert deleted["object"]["title"] == "b" and "internal" not in deleted["object"]
                # Unreadable before, readable after: an enter with no `original` (it was not the
                # subscriber's to see), and the object it may read now.
                hidden = http.post("/classes/Notes", json={"title": "h", "score": 50, "ACL": {"x": {"read": True}}})
                hid = hidden.json()["objectId"]
                http.put(f"/classes/Notes/{hid}", json={"title": "shown", "ACL": mine})
                shown = await next_event(parse)
                assert shown["op"] == "enter" and shown["object"]["objectId"] == hid
                assert shown["object"]["title"] == "shown" and "original" not in shown
                # Readable before, unreadable after: a leave whose object is the id only, and the
                # `original` the subscriber could read.
                http.put(f"/classes/Notes/{hid}", json={"title": "gone", "ACL": {"x": {"read": True}}})
                gone = await next_event(parse)
                assert gone["op"] == "leave" and gone["object"] == {"objectId": hid, "className": "Notes"}
                assert gone["original"]["title"] == "shown"
            assert not await parse.quiet(0.5)

    run(scenario())

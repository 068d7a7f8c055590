"""Live queries over a real WebSocket against a real `serve`: events, order, snapshot, since, hostile input."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from .conftest import OPEN, connect, run

pytestmark = pytest.mark.live

POSTS = {
    "name": "posts",
    "fields": {
        "title": {"type": "string"},
        "n": {"type": "number"},
        "tags": {"type": "array", "items": "string"},
        "secret": {"type": "string"},
        "place": {"type": "geopoint"},
    },
    "permissions": OPEN,
    "protected_fields": {"*": ["secret"]},
    "default_acl": "public",
}


def test_events_follow_the_where_in_commit_order_with_seq(app):
    """create, leave, enter, update, delete arrive for every committed change, each with a rising seq."""
    app.collection(POSTS)

    async def scenario():
        async with connect(app.ws_url()) as c:
            assert (await c.subscribe("s1", "posts", where={"n": {"$gt": 1}}))["op"] == "subscribed"
            doc = app.ok("POST", "/collections/posts/documents", {"title": "a", "n": 2}, 201)
            path = f"/collections/posts/documents/{doc['id']}"
            app.ok("PATCH", path, {"n": 0})
            app.ok("PATCH", path, {"n": 5})
            app.ok("PATCH", path, {"title": "b"})
            rest_view = app.ok("GET", path)
            app.ok("POST", "/collections/posts/documents", {"title": "ignored", "n": 0}, 201)
            app.call("DELETE", path)
            events = await c.events("s1", 5)
            assert [e["type"] for e in events] == ["create", "leave", "enter", "update", "delete"]
            seqs = [int(e["seq"]) for e in events]
            assert seqs == sorted(seqs) and len(set(seqs)) == 5
            assert events[3]["document"]["title"] == "b"
            assert events[3]["document"] == rest_view
            assert events[4]["document"] == {"id": doc["id"]}
            assert "secret" not in events[0]["document"]

    run(scenario())


def test_every_find_operator_is_accepted_or_named(app):
    """Operators find accepts work in a subscription; $related_to and unknown ones are named in invalid_query."""
    app.collection(POSTS)

    async def scenario():
        async with connect(app.ws_url()) as c:
            wheres = [
                {"title": {"$regex": "^a", "$options": "i"}},
                {"title": {"$search": "hello"}},
                {"tags": {"$contains": "x"}},
                {"tags": {"$all": ["x", "y"]}},
                {"tags": {"$in": ["x"]}},
                {"n": {"$in": [1, 2], "$nin": [3]}},
                {"$or": [{"n": 1}, {"title": {"$exists": True}}], "$nor": [{"n": 9}]},
                {"place": {"$within_box": [[0, 0], [10, 10]]}},
                {"place": {"$near": {"lat": 1, "lng": 1}, "$max_km": 500}},
                {"created_at": {"$gt": "2020-01-01T00:00:00Z"}},
            ]
            for i, where in enumerate(wheres):
                assert (await c.subscribe(f"ok{i}", "posts", where=where))["op"] == "subscribed", where
            bad = await c.subscribe("b1", "posts", where={"n": {"$bogus": 1}})
            assert bad["error"]["code"] == "invalid_query" and "$bogus" in bad["error"]["message"]
            rel = await c.subscribe(
                "b2", "posts", where={"$related_to": {"collection": "posts", "id": "x", "field": "tags"}}
            )
            assert rel["error"]["code"] == "invalid_query"
            body = {"title": "Abc hello", "n": 1, "tags": ["x", "y"], "place": {"lat": 1, "lng": 1}}
            doc = app.ok("POST", "/collections/posts/documents", body, 201)
            events = []
            while len(events) < len(wheres):
                message = await c.expect("event")
                events.append(message["id"])
            assert sorted(events) == sorted(f"ok{i}" for i in range(len(wheres)))
            assert all(e["document"]["id"] == doc["id"] for e in c.seen if e.get("op") == "event")

    run(scenario())


def test_where_on_protected_field_is_refused_like_rest(app):
    """No oracle: filtering on a protected field answers invalid_query, as find does (T3)."""
    app.collection(POSTS)
    rest = app.call("GET", '/collections/posts/documents?where={"secret":"x"}')
    assert rest.status_code == 400

    async def scenario():
        async with connect(app.ws_url()) as c:
            refused = await c.subscribe("s", "posts", where={"secret": {"$regex": "^a"}})
            assert refused["error"]["code"] == rest.json()["error"]["code"] == "invalid_query"
            refused = await c.subscribe("s2", "posts", where={"$or": [{"secret": "x"}]})
            assert refused["error"]["code"] == "invalid_query"
            # With the secret key the field is readable, so the filter is allowed.
        async with connect(app.ws_url(app.sk)) as c:
            assert (await c.subscribe("s", "posts", where={"secret": "x"}))["op"] == "subscribed"

    run(scenario())


def test_snapshot_then_events_without_gap_or_duplicate(app):
    """With writes racing the subscribe, snapshot ∪ later events = every document exactly once."""
    app.collection(POSTS)
    for i in range(20):
        app.ok("POST", "/collections/posts/documents", {"title": f"pre{i}", "n": i}, 201)
    stop = threading.Event()
    written: list[str] = []

    def writer():
        while not stop.is_set() and len(written) < 200:
            written.append(app.ok("POST", "/collections/posts/documents", {"title": "live", "n": 1}, 201)["id"])

    async def scenario():
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            await asyncio.sleep(0.2)
            async with connect(app.ws_url()) as c:
                await c.send({"op": "subscribe", "id": "s", "collection": "posts", "snapshot": True})
                subscribed = await c.expect("subscribed", id="s")
                snapshot = await c.expect("snapshot", id="s")
                assert snapshot["seq"] == subscribed["seq"]
                await asyncio.sleep(0.5)
                stop.set()
                await asyncio.to_thread(thread.join)
                total = 20 + len(written)
                ids = [d["id"] for d in snapshot["documents"]]
                created = []
                while len(ids) + len(created) < total:
                    event = await c.expect("event", id="s")
                    assert int(event["seq"]) > int(snapshot["seq"])
                    created.append(event["document"]["id"])
                assert len(set(ids + created)) == len(ids) + len(created) == total
                assert await c.quiet(0.5) == []
        finally:
            stop.set()
            thread.join()

    run(scenario())


def test_since_replays_what_was_missed_then_goes_live(app):
    """A client that reconnects with the last seq it saw misses nothing and gets nothing twice."""
    app.collection(POSTS)

    async def scenario():
        async with connect(app.ws_url()) as c:
            await c.subscribe("s", "posts")
            first = app.ok("POST", "/collections/posts/documents", {"title": "one"}, 201)
            seen = (await c.events("s", 1))[0]
        missed = [app.ok("POST", "/collections/posts/documents", {"title": f"m{i}"}, 201)["id"] for i in range(3)]
        async with connect(app.ws_url()) as c:
            await c.subscribe("s", "posts", since=seen["seq"])
            replayed = await c.events("s", 3)
            assert [e["document"]["id"] for e in replayed] == missed
            live_doc = app.ok("POST", "/collections/posts/documents", {"title": "after"}, 201)
            assert (await c.events("s", 1))[0]["document"]["id"] == live_doc["id"]
            assert first["id"] not in [e["document"]["id"] for e in replayed]
            ahead = await c.subscribe("s2", "posts", since="999999")
            assert ahead["error"]["code"] == "resync_required"

    run(scenario())


def test_hostile_input_answers_errors_and_the_connection_stays_usable(app):
    """Bad JSON, non-objects, unknown ops, huge frames, bursts, other projects: error ops, then ping works."""
    app.collection(POSTS)

    async def scenario():
        async with connect(app.ws_url()) as c:
            for raw, code in [
                ("{not json", "invalid_json"),
                ("[1, 2]", "invalid_json"),
                (json.dumps({"op": "nope"}), "invalid_operation"),
                (json.dumps({"op": 5}), "invalid_operation"),
                (json.dumps({"op": "subscribe", "id": "x" * 100, "collection": "posts"}), "invalid_operation"),
                (json.dumps({"op": "subscribe", "id": "a", "collection": "ledger"}), "not_found"),
                (json.dumps({"op": "subscribe", "id": "a", "collection": {"$gt": ""}}), "invalid_operation"),
                (json.dumps({"op": "subscribe", "id": "a", "collection": "posts", "since": "-1"}), "invalid_operation"),
                (json.dumps({"op": "auth", "access_token": "forged.token.value"}), "invalid_token"),
                (json.dumps({"op": "auth", "access_token": 7}), "invalid_token"),
                ("x" * (70 * 1024), "payload_too_large"),
                (json.dumps({"op": "join", "channel": "room:1"}), "permission_denied"),
            ]:
                await c.send(raw)
                error = await c.expect("error")
                assert error["error"]["code"] == code, (raw[:80], error)
            await c.send({"op": "ping"})
            await c.expect("pong")
            # A burst of 10,000 subscribes: 100 succeed (the per-connection limit), the rest are refused.
            for i in range(10_000):
                await c.send({"op": "subscribe", "id": f"b{i}", "collection": "posts"})
            ok = refused = 0
            while ok + refused < 10_000:
                message = await c.next(60)
                if message["op"] == "subscribed":
                    ok += 1
                elif message["op"] == "error":
                    assert message["error"]["code"] == "quota_exceeded"
                    refused += 1
            assert (ok, refused) == (100, 9_900)
            await c.send({"op": "ping"})
            await c.expect("pong")

    run(scenario())


def test_keys_and_tokens_are_checked_at_the_door(app, server):
    """No key, a bad key or a token in the URL: an error op and a close; another project's token is refused."""
    from .conftest import App, make_live_project

    other = App(make_live_project(server.url))
    other.collection(POSTS)
    app.collection(POSTS)
    other_user = other.signup()

    async def refused(url: str, code: str):
        async with connect(url) as c:
            message = await c.next()
            assert message["op"] == "error" and message["error"]["code"] == code
            with pytest.raises(Exception):
                await c.next(5)

    async def scenario():
        await refused(app.ws_url("sk_unknown"), "invalid_api_key")
        await refused(app.url.replace("http", "ws") + "/api/v1/realtime", "invalid_api_key")
        await refused(app.ws_url(extra="&access_token=abc"), "invalid_token")
        async with connect(app.ws_url()) as c:
            await c.send({"op": "auth", "access_token": other_user["access_token"]})
            assert (await c.expect("error"))["error"]["code"] == "invalid_token"
            # The other project's collection of the same name is not reachable; ours is.
            await c.subscribe("s", "posts")
            other.ok("POST", "/collections/posts/documents", {"title": "theirs"}, 201)
            assert await c.quiet(1.0) == []

    run(scenario())


def test_a_project_that_restricts_origins_refuses_other_browser_origins(app):
    """Browsers send Origin with a WebSocket and CORS does not apply to it: a project that lists its
    origins gets only those (and the server's own pages); clients without Origin are unaffected."""
    app.collection(POSTS)

    async def opened(origin: str | None) -> dict:
        async with connect(app.ws_url(), **({"origin": origin} if origin else {})) as c:
            await c.send({"op": "ping"})
            return await c.next()

    async def refused(origin: str) -> None:
        async with connect(app.ws_url(), origin=origin) as c:
            message = await c.next()
            assert message["op"] == "error" and message["error"]["code"] == "permission_denied", message
            assert message["error"]["details"]["origin"] == origin
            with pytest.raises(Exception):
                await c.next(5)
            assert c.ws.close_code == 4003

    async def scenario():
        # Nothing listed: any origin may open (as before).
        assert (await opened("https://anywhere.example"))["op"] == "pong"
        app.settings({"cors_origins": ["https://app.example.com"]})
        assert (await opened("https://app.example.com"))["op"] == "pong"
        assert (await opened(None))["op"] == "pong"
        assert (await opened(app.url))["op"] == "pong"  # the server's own console pages
        await refused("https://evil.example")

    run(scenario())

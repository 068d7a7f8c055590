"""A fan-out over live sockets (under daphne written straight to each socket, wire.py): subscribers
that share a principal set share a frame, and none gets another's fields; a subscriber that stops
reading while the kernel's buffers fill gets every event afterwards, in order, once."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from .conftest import connect, run
from .test_access import NOTES  # protected `internal`, revealed to role:staff

pytestmark = pytest.mark.live


def test_a_fan_out_gives_each_subscriber_exactly_its_own_view(app):
    """Several sockets per principal set (anonymous, a user, a staff member, the secret key), with
    different subscription ids and `fields`: each event is the REST GET of its caller, trimmed by
    its own `fields`, under its own id."""
    app.collection(NOTES)
    alice, carol = app.signup(), app.signup()
    app.ok("POST", "/roles", {"name": "staff", "users": [carol["user"]["id"]]}, 201, key=app.sk)
    callers = {
        "anonymous": (app.pk, None),
        "alice": (app.pk, alice),
        "carol": (app.pk, carol),
        "secret": (app.sk, None),
    }
    # (caller, subscription id, fields): three sockets per caller, two sharing everything.
    plan = [(name, sub_id, fields) for name in callers for sub_id, fields in (("a", None), ("a", None), ("b", ["n"]))]

    async def scenario():
        clients = []
        for name, sub_id, fields in plan:
            key, user = callers[name]
            client = await connect(app.ws_url(key)).__aenter__()
            if user:
                await client.send({"op": "auth", "access_token": user["access_token"]})
                await client.expect("authenticated")
            options = {"fields": fields} if fields else {}
            assert (await client.subscribe(sub_id, "notes", **options))["op"] == "subscribed"
            clients.append(client)
        try:
            acl = {"*": {"read": True}}
            body = {"title": "t", "internal": "staff only", "n": 1, "acl": acl}
            doc_id = app.ok("POST", "/collections/notes/documents", body, 201, key=app.sk)["id"]
            for client, (name, sub_id, fields) in zip(clients, plan, strict=True):
                key, user = callers[name]
                token = user["access_token"] if user else None
                query = f"?fields={','.join(fields)}" if fields else ""
                expected = app.ok("GET", f"/collections/notes/documents/{doc_id}{query}", key=key, token=token)
                event = await client.expect("event")
                assert event["id"] == sub_id and event["type"] == "create", (name, sub_id)
                assert event["document"] == expected, (name, sub_id, fields)
                assert ("internal" in event["document"]) == (name in ("carol", "secret") and not fields), name
                assert [m for m in await client.quiet(0.3) if m.get("op") == "event"] == [], name
        finally:
            for client in clients:
                await client.ws.close()

    run(scenario())


def test_a_subscriber_that_stops_reading_gets_everything_in_order_once_it_reads_again(app):
    """Past the kernel's socket buffers a direct send is partial: its tail waits in twisted's buffer
    and every later frame queues behind it (none overtakes, none is lost or repeated)."""
    app.collection(NOTES)
    writes, size = 120, 60_000  # about 7 MB of events: more than loopback's socket buffers hold

    async def scenario():
        # max_queue=1: the client stops reading its socket as soon as one message is unread.
        async with (
            websockets.connect(app.ws_url(), max_size=None, max_queue=1) as stalled,
            connect(app.ws_url()) as reader,
        ):
            for ws in (stalled, reader.ws):
                await ws.send(json.dumps({"op": "subscribe", "id": "s", "collection": "notes"}))
                while json.loads(await asyncio.wait_for(ws.recv(), 30))["op"] != "subscribed":
                    pass
            for n in range(writes):
                body = {"title": f"{n:04d}" + "x" * size, "n": n}
                await asyncio.to_thread(app.ok, "POST", "/collections/notes/documents", body, 201, key=app.sk)
            # The live reader had them all, so the server has fanned every write out.
            assert [e["document"]["n"] for e in await reader.events("s", writes, timeout=60)] == list(range(writes))
            got = []
            while len(got) < writes:
                message = json.loads(await asyncio.wait_for(stalled.recv(), 30))
                if message.get("op") == "event":
                    got.append(message)
            assert [e["document"]["n"] for e in got] == list(range(writes))
            seqs = [int(e["seq"]) for e in got]
            assert seqs == sorted(set(seqs))

    run(scenario())

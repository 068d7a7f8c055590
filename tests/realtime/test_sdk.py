"""`basalt_sdk`'s client.realtime against the live server: typed events, snapshot, reconnect without loss."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import OPEN, run

basalt_sdk = pytest.importorskip("basalt_sdk")
from basalt_sdk.realtime import Event, ResyncRequiredError, Snapshot  # noqa: E402

pytestmark = pytest.mark.live

POSTS = {"name": "posts", "fields": {"n": {"type": "number"}}, "permissions": OPEN, "default_acl": "owner"}


def test_sdk_subscribes_iterates_typed_events_and_resumes_after_a_drop(app):
    app.collection(POSTS)
    user = app.signup()

    async def scenario():
        client = basalt_sdk.Client(app.url, app.pk, access_token=user["access_token"])
        async with client.realtime as rt:
            mine = app.ok("POST", "/collections/posts/documents", {"n": 0}, 201, token=user["access_token"])
            sub = await rt.subscribe("posts", where={"n": {"$gte": 0}}, snapshot=True)
            snapshot = await sub.__anext__()
            assert isinstance(snapshot, Snapshot) and [d["id"] for d in snapshot.documents] == [mine["id"]]
            app.ok("POST", "/collections/posts/documents", {"n": 1}, 201, token=user["access_token"])
            event = await asyncio.wait_for(sub.__anext__(), 10)
            assert isinstance(event, Event) and (event.type, event.document["n"]) == ("create", 1)
            # The network drops; writes happen meanwhile; the SDK reconnects, re-auths and resumes with since.
            rt._ws.transport.abort()
            for n in (2, 3, 4):
                app.ok("POST", "/collections/posts/documents", {"n": n}, 201, token=user["access_token"])
            got = [(await asyncio.wait_for(sub.__anext__(), 15)).document["n"] for _ in range(3)]
            assert got == [2, 3, 4]
            with pytest.raises(basalt_sdk.InvalidQueryError):
                await rt.subscribe("posts", where={"n": {"$nope": 1}})
            with pytest.raises(ResyncRequiredError):
                bad = await rt.subscribe("posts", since=10**9)
                await bad.__anext__()
        client.close()

    run(scenario())

"""Production shape on PostgreSQL + Redis: one web process and two realtime processes share the fan-out."""

from __future__ import annotations

import asyncio
import os

import pytest

from tests.contract import live

from .conftest import OPEN, App, connect, make_live_project, run, start_process, until_ready

pytestmark = [
    pytest.mark.live,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")), reason="needs PostgreSQL and Redis"
    ),
]

POSTS = {"name": "posts", "fields": {"n": {"type": "number"}}, "permissions": OPEN, "default_acl": "public"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data = tmp_path_factory.mktemp("cluster") / "data"
    env, database = live.server_env(data)
    servers = [start_process(env, data, migrate=True, database=database)]
    try:
        servers += [start_process(env, data, migrate=False) for _ in range(2)]
        yield servers[0], servers[1:]
    finally:
        for server in reversed(servers):  # the web process last: it drops the database
            live.stop(server)


def test_subscribers_on_two_realtime_processes_receive_every_event_from_the_web_process(cluster):
    """Writes on the web process reach subscribers on both realtime processes, all of them, in order;
    a subscriber whose process dies resumes on the other one with `since` and misses nothing."""
    web, (rt1, rt2) = cluster
    app = App(make_live_project(web.url))
    app.collection(POSTS)
    total = 60

    async def subscriber(server, ready: asyncio.Event, sub_id: str) -> list[int]:
        url = server.url.replace("http://", "ws://") + f"/api/v1/realtime?apikey={app.pk}"
        async with connect(url) as client:
            await client.subscribe(sub_id, "posts")
            ready.set()
            events = await client.events(sub_id, total, timeout=30)
            return [e["document"]["n"] for e in events]

    async def scenario():
        ready = [asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(subscriber(s, r, f"s{i}")) for i, (s, r) in enumerate(zip((rt1, rt2), ready))]
        await until_ready(ready, tasks, 30)
        for i in range(total):
            await asyncio.to_thread(app.ok, "POST", "/collections/posts/documents", {"n": i}, 201)
        results = await asyncio.gather(*tasks)
        assert results == [list(range(total)), list(range(total))]

    run(scenario())

    app.settings({"realtime": {"channels": {"room:*": {"join": ["*"], "broadcast": ["*"]}}}})

    async def failover():
        url1 = rt1.url.replace("http://", "ws://") + f"/api/v1/realtime?apikey={app.pk}"
        url2 = rt2.url.replace("http://", "ws://") + f"/api/v1/realtime?apikey={app.pk}"
        async with connect(url2) as watcher:
            await watcher.send({"op": "join", "channel": "room:x", "presence": {"on": "rt2"}})
            await watcher.expect("presence", channel="room:x")
            async with connect(url1) as client:
                await client.subscribe("f", "posts")
                await client.send({"op": "join", "channel": "room:x", "presence": {"on": "rt1"}})
                # Presence and broadcasts cross processes.
                joined = await watcher.expect("presence", channel="room:x")
                assert [j["presence"] for j in joined["joins"]] == [{"on": "rt1"}]
                await client.send({"op": "broadcast", "channel": "room:x", "event": "hi", "payload": 1})
                assert (await watcher.expect("broadcast", channel="room:x"))["payload"] == 1
                app.ok("POST", "/collections/posts/documents", {"n": 1000}, 201)
                last = (await client.events("f", 1))[0]["seq"]
                rt1.process.kill()  # the process dies under the client, without saying goodbye
                rt1.process.wait(10)
            # Its member leaves the channel once its process stops re-announcing it (≤ 3 heartbeats).
            left = await watcher.expect("presence", timeout=30, channel="room:x")
            assert [m["presence"] for m in left["leaves"]] == [{"on": "rt1"}]
        for i in range(5):
            app.ok("POST", "/collections/posts/documents", {"n": 1001 + i}, 201)
        async with connect(url2) as client:
            await client.subscribe("f", "posts", since=last)
            assert [e["document"]["n"] for e in await client.events("f", 5)] == list(range(1001, 1006))

    run(failover())

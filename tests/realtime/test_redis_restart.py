"""SECURITY.md T14 on the production shape: Redis restarts and a realtime process dies mid-run.

The test runs its own redis-server on a free loopback port (so restarting it touches nobody
else), one web process and two realtime processes on PostgreSQL. Subscribers on both realtime
processes receive writes made at a steady rate on the web process; halfway, Redis restarts and
then one realtime process is killed. Clients reconnect with `since` (to the surviving process
when theirs is gone). After de-duplication by seq every client has every committed event exactly
once, in seq order: the change log in the database is the source of truth, Redis only a shortcut.
Scaled down for CI time from 200 subscribers (the shape is the same; the bench runs the full size).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time

import httpx
import pytest
import websockets

from tests.contract import live

from .conftest import OPEN, App, Redis, make_live_project, run, start_process, until_ready

pytestmark = [
    pytest.mark.live,
    pytest.mark.postgres,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="needs PostgreSQL"),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="needs the redis-server binary"),
]

POSTS = {"name": "posts", "fields": {"n": {"type": "number"}}, "permissions": OPEN, "default_acl": "public"}
SUBSCRIBERS = 40
RATE = 10  # writes per second
WRITES = 100
CATCH_UP = 60.0  # generous on a shared machine; the time it took is printed, not asserted


@pytest.fixture
def cluster(tmp_path):
    redis = Redis(live.free_port())
    redis.start()
    data = tmp_path / "data"
    env, database = live.server_env(data)
    env["REDIS_URL"] = f"redis://127.0.0.1:{redis.port}/0"
    env["CELERY_TASK_ALWAYS_EAGER"] = "true"
    servers = []
    try:
        servers.append(start_process(env, data, migrate=True, database=database))
        servers += [start_process(env, data, migrate=False) for _ in range(2)]
        yield redis, servers
    finally:
        for server in reversed(servers):  # the web process last: it drops the database
            live.stop(server)
        redis.stop()


class Follower:
    """A client that reconnects with `since` whenever its socket ends, and de-duplicates by seq."""

    def __init__(self, app: App, urls: list[str]):
        self.app, self.urls = app, urls
        self.events: list[tuple[int, int]] = []  # (seq, n) kept after de-duplication
        self.last = 0
        self.received = 0
        self.reconnects = 0
        self.ready = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            url = self.urls[0]
            try:
                async with websockets.connect(f"{url}/api/v1/realtime?apikey={self.app.pk}", open_timeout=10) as ws:
                    request = {"op": "subscribe", "id": "s", "collection": "posts"}
                    if self.ready.is_set():
                        request["since"] = str(self.last)
                    await ws.send(json.dumps(request))
                    while not stop.is_set():
                        try:
                            message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                        except TimeoutError:
                            continue
                        if message.get("op") == "subscribed" and not self.ready.is_set():
                            self.last = int(message["seq"])
                            self.ready.set()
                        elif message.get("op") == "event":
                            self.received += 1
                            seq = int(message["seq"])
                            if seq > self.last:
                                self.events.append((seq, message["document"]["n"]))
                                self.last = seq
                        elif message.get("op") == "error":
                            raise AssertionError(message)
            except (OSError, websockets.WebSocketException, TimeoutError):
                pass
            if stop.is_set():
                return
            self.reconnects += 1
            await asyncio.sleep(0.2)


def test_t14_every_event_exactly_once_through_a_redis_restart_and_a_killed_realtime_process(cluster):
    redis, (web, rt1, rt2) = cluster
    app = App(make_live_project(web.url))
    app.collection(POSTS)
    ws1, ws2 = (server.url.replace("http://", "ws://") for server in (rt1, rt2))

    async def scenario():
        followers = [Follower(app, [ws1, ws2] if i % 2 else [ws2, ws1]) for i in range(SUBSCRIBERS)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(f.run(stop)) for f in followers]
        await until_ready([f.ready for f in followers], tasks, 60)
        written: list[int] = []
        async with httpx.AsyncClient(base_url=app.url, headers={"X-API-Key": app.sk}, timeout=30) as http:
            for n in range(WRITES):
                if n == WRITES // 3:
                    redis.stop()
                    await asyncio.to_thread(redis.start)
                if n == WRITES // 2:
                    rt1.process.kill()  # dies without a goodbye
                    for f in followers:
                        if f.urls[0] == ws1:
                            f.urls = [ws2, ws1]
                for _attempt in range(50):  # while Redis restarts the web process may refuse a write
                    try:
                        response = await http.post("/api/v1/collections/posts/documents", json={"n": n})
                        if response.status_code == 201:
                            written.append(n)
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1 / RATE)
        assert len(written) == WRITES
        rows = app.ok("GET", "/collections/posts/documents?limit=1000&order=created_at", key=app.sk)["results"]
        committed = [doc["n"] for doc in rows]
        finished = time.monotonic()
        while time.monotonic() - finished < CATCH_UP:
            if all(len(f.events) >= len(committed) for f in followers):
                break
            await asyncio.sleep(0.1)
        took = time.monotonic() - finished
        stop.set()
        await asyncio.gather(*tasks)
        return followers, committed, took

    followers, committed, took = run(scenario())
    print(
        f"T14: {SUBSCRIBERS} subscribers, {len(committed)} writes, all caught up {took:.2f}s after the last write; "
        f"reconnects {sum(f.reconnects for f in followers)}, "
        f"duplicates dropped {sum(f.received - len(f.events) for f in followers)}"
    )
    for follower in followers:
        seqs = [seq for seq, _ in follower.events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        assert [n for _, n in follower.events] == committed
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gap

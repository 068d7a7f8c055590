"""Realtime fixtures: a real `manage.py serve` (on granian, its default), projects made through the API,
WebSocket clients."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.contract import live

OPEN = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}
PASSWORD = "a realtime test passphrase"
WAIT = 10.0  # generous: the machine is shared; no assertion depends on it being fast


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[live.Server]:
    started = live.start(tmp_path_factory.mktemp("realtime") / "data")
    try:
        yield started
    finally:
        live.stop(started)


class App:
    """One project on the live server, driven through its public API."""

    def __init__(self, project: live.LiveProject):
        self.project = project
        self.url = project.url
        self.pk, self.sk = project.publishable, project.secret

    def http(self, key: str | None = None, token: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key or self.pk}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = None, token: str | None = None):
        with self.http(key, token) as client:
            return client.request(method, "/api/v1" + path, json=body)

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw) -> Any:
        response = self.call(method, path, body, **kw)
        assert response.status_code == status, (method, path, response.text[:400])
        return response.json() if response.content else None

    def collection(self, definition: dict) -> None:
        self.ok("POST", "/schema/collections", definition, 201, key=self.sk)

    def signup(self) -> dict:
        body = {"email": f"u-{uuid.uuid4().hex[:10]}@example.com", "password": PASSWORD}
        return self.ok("POST", "/auth/signup", body, 201)

    def settings(self, section: dict) -> None:
        response = self.manage("PATCH", "/settings", section)
        assert response.status_code == 200, response.text[:400]

    def manage(self, method: str, path: str, body: Any = None) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            client.headers["Authorization"] = f"Bearer {self.project.console_token}"
            return client.request(method, f"/api/v1/manage/projects/{self.project.ref}" + path, json=body)

    def ws_url(self, key: str | None = None, extra: str = "") -> str:
        return self.url.replace("http://", "ws://") + f"/api/v1/realtime?apikey={key or self.pk}{extra}"


@pytest.fixture
def app(server) -> App:
    return App(make_live_project(server.url))


def make_live_project(url: str) -> live.LiveProject:
    """live.make_project, keeping the console token for settings changes."""
    email = f"dev-{uuid.uuid4().hex[:10]}@example.com"
    with httpx.Client(base_url=url, timeout=30) as http:
        assert http.post("/api/v1/manage/auth/users/", json={"email": email, "password": PASSWORD}).status_code == 201
        token = http.post("/api/v1/manage/auth/jwt/create/", json={"email": email, "password": PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access']}"
        ref = http.post("/api/v1/manage/projects", json={"name": "Realtime"}).json()["ref"]
        keys = {
            kind: http.post(f"/api/v1/manage/projects/{ref}/keys", json={"kind": kind, "name": kind}).json()
            for kind in ("publishable", "secret")
        }
    project = live.LiveProject(url, ref, keys["publishable"]["key"], keys["secret"]["key"])
    project.console_token = token["access"]
    project.console_email = email
    project.key_ids = {kind: body["id"] for kind, body in keys.items()}
    return project


class Client:
    """A WebSocket client that keeps every message it received, to assert on what arrived (and what did not)."""

    def __init__(self, ws):
        self.ws = ws
        self.seen: list[dict] = []

    async def send(self, message: Any) -> None:
        await self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    async def next(self, timeout: float = WAIT) -> dict:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.seen.append(message)
        return message

    async def expect(self, op: str, timeout: float = WAIT, **fields) -> dict:
        """The next message with this op (and fields); anything else on the way is kept in `seen`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.next(max(0.01, deadline - loop.time()))
            if message.get("op") == op and all(message.get(k) == v for k, v in fields.items()):
                return message

    async def quiet(self, seconds: float = 1.0) -> list[dict]:
        """Everything that arrives within `seconds` (used to show nothing more arrives)."""
        got = []
        try:
            while True:
                got.append(await self.next(seconds))
        except (TimeoutError, websockets.ConnectionClosed):
            return got

    async def subscribe(self, sub_id: str, collection: str, **options) -> dict:
        await self.send({"op": "subscribe", "id": sub_id, "collection": collection, **options})
        return await self.expect_one_of(sub_id)

    async def expect_one_of(self, sub_id: str) -> dict:
        while True:
            message = await self.next()
            if message.get("id") == sub_id and message.get("op") in ("subscribed", "error"):
                return message

    async def events(self, sub_id: str, count: int, timeout: float = WAIT) -> list[dict]:
        out = []
        while len(out) < count:
            message = await self.expect("event", timeout, id=sub_id)
            out.append(message)
        return out


class connect:  # noqa: N801 - used like websockets.connect
    def __init__(self, url: str, **kwargs):
        self.cm = websockets.connect(url, max_size=None, **kwargs)

    async def __aenter__(self) -> Client:
        return Client(await self.cm.__aenter__())

    async def __aexit__(self, *exc) -> None:
        await self.cm.__aexit__(*exc)


SCENARIO_LIMIT = 300.0  # a scenario that waits on something that never comes fails here instead of holding CI


async def until_ready(events: list[asyncio.Event], tasks: list[asyncio.Task], seconds: float) -> None:
    """Wait for every client task to say it is ready; one that failed before it was raises its own
    error, rather than a timeout that hides it."""
    try:
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in events)), seconds)
    except TimeoutError:
        for task in tasks:
            if task.done():
                task.result()
        raise


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, SCENARIO_LIMIT))


def start_process(env: dict, data_dir, migrate: bool, database: str | None = None) -> live.Server:
    """One more `manage.py serve` on the same database and Redis (a second realtime process). The one
    given the `database` (from live.server_env) drops it when stopped, or when it fails to start."""
    import subprocess
    import sys

    port = live.free_port()
    log = data_dir.parent / f"serve-{port}.log"
    args = [sys.executable, str(live.ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*args, *([] if migrate else ["--no-migrate"])],
            env=env,
            cwd=live.ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = live.Server(f"http://127.0.0.1:{port}", process, log, database)
    live.wait_until_ready(server)
    return server


class Redis:
    """A redis-server of the test's own on a free loopback port: restarting it touches nobody else."""

    def __init__(self, port: int, *options: str):
        self.port, self.options = port, options
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + list(self.options),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

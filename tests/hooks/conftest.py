"""Webhook fixtures: a loopback receiver that verifies Standard Webhooks signatures, and eager tasks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

OPEN = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}
POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string"}, "score": {"type": "number", "default": 0}},
    "permissions": OPEN,
    "default_acl": "public",
}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What the receiver answers is set by the test: `status`, `body`, `mode` (normal, huge, drip, redirect)."""

    url: str = ""
    status: int = 200
    body: bytes = b'{"ok": true}'
    mode: str = "normal"
    redirect_to: str = ""
    received: list[Received] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} deliveries, got {len(self.received)}")

    def verified(self, secret: str) -> list[Any]:
        """Every received body, after standardwebhooks verified its signature with `secret`."""
        hook = Webhook(secret)
        return [hook.verify(r.body, r.headers) for r in self.received]


def _handler(state: Receiver):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with state.lock:
                state.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            if state.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if state.mode == "huge":
                self.send_response(200)
                total = 64 * 1024 * 1024
                self.send_header("Content-Length", str(total))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(total // len(chunk)):
                        self.wfile.write(chunk)
                        state.bytes_sent += len(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return
            if state.mode == "drip":
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                try:
                    for _ in range(100000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        state.bytes_sent += 1
                        time.sleep(0.2)
                except OSError:
                    pass
                self.close_connection = True
                return
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

    return Handler


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return state, server


@pytest.fixture
def receiver():
    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def internal():
    """A second listener standing for an internal service that must never be reached."""
    state, server = start_receiver()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooks_env(settings):
    """Loopback targets allowed (the receiver is on 127.0.0.1); tasks run inline."""
    from basalt.celery import app

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 5.0
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield settings
    app.conf.task_always_eager = previous


@pytest.fixture
def webhook_project(transactional_db, make_project, hooks_env):
    """A project with an open `posts` collection, its owner's console client and a key client."""
    from rest_framework.test import APIClient

    from tests.conftest import console_client_for

    keys = make_project()
    sk = APIClient()
    sk.credentials(HTTP_X_API_KEY=keys.secret)
    assert sk.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    keys.sk = sk
    keys.console = console_client_for(keys.owner)
    keys.base = f"/api/v1/manage/projects/{keys.project.ref}"
    return keys


def add_endpoint(app, url: str, **extra) -> dict:
    body = {"url": url, "events": ["documents.create", "documents.update", "documents.delete"], **extra}
    response = app.console.post(app.base + "/webhooks", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()

"""APNs through aioapns: token (ES256 JWT) auth, notifications multiplexed on HTTP/2 connections.

Test seam: `PUSH_APNS_ENDPOINT` (host:port) and `PUSH_APNS_CA_FILE` point the real client at a
loopback HTTP/2 TLS stand-in (a protocol subclass, as EXTERNALS.md describes); unset in production.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import ssl
import threading
from collections import OrderedDict
from typing import Any

import orjson
from django.conf import settings
from django.utils import timezone

from basalt.push.message import ttl_seconds
from basalt.push.providers.base import (
    FAILED,
    INVALID,
    RETRY,
    SENT,
    Envelope,
    Outcome,
    Outgoing,
    Provider,
    ProviderAuthError,
)

_TOKEN = re.compile(r"\A[0-9a-fA-F]{64,200}\Z")
# APNs reasons (Apple's documentation) that mean the token will never work again.
INVALID_REASONS = {"BadDeviceToken", "Unregistered", "DeviceTokenNotForTopic", "ExpiredToken"}
AUTH_REASONS = {"InvalidProviderToken", "ExpiredProviderToken", "MissingProviderToken", "BadCertificate", "Forbidden"}
CONNECTIONS = 4
# A batch may take this many HTTP timeouts before it is given up (its deliveries retried).
BATCH_TIMEOUT_FACTOR = 6


def _http() -> float:
    return float(settings.PUSH_HTTP_TIMEOUT)


class _ProcessLoop:
    """The process's APNs event loop, on a thread of its own, and the clients living on it.

    One aioapns client per credentials for the life of the process keeps its HTTP/2 connections
    (TLS handshakes, provider tokens) across batches; a client made per batch paid for them again
    every 1,000 deliveries. aioapns' connections belong to the loop they were opened on, so every
    batch runs on this one loop, whichever thread asks. A prefork worker child sees a new pid and
    starts its own loop: the parent's loop thread does not exist after the fork, and its clients'
    sockets are the parent's, so they are dropped there, never used nor closed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        # Touched only on the loop's thread.
        self.clients: OrderedDict[tuple, Any] = OrderedDict()

    def run(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._current()).result(timeout)

    def _current(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.loop is None or self.pid != os.getpid():
                self.pid, self.loop, self.clients = os.getpid(), asyncio.new_event_loop(), OrderedDict()
                threading.Thread(target=self.loop.run_forever, name="apns-loop", daemon=True).start()
            return self.loop

    def client(self, credentials: Any) -> Any:
        """The client for these credentials and endpoint, made on first use (on the loop's thread)."""
        key = (
            hashlib.sha256(credentials.key_pem.encode()).hexdigest(),
            credentials.key_id,
            credentials.team_id,
            credentials.bundle_id,
            bool(credentials.sandbox),
            settings.PUSH_APNS_ENDPOINT,
            settings.PUSH_APNS_CA_FILE,
        )
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = _client(credentials)
            while len(self.clients) > MAX_CLIENTS:  # projects whose credentials changed, mostly
                self.clients.popitem(last=False)[1].pool.close()
        self.clients.move_to_end(key)
        return client

    def drop(self, client: Any) -> None:
        """Forget a client whose connections may be stuck (a batch timed out); the next makes anew."""
        for key, known in list(self.clients.items()):
            if known is client:
                del self.clients[key]
        client.pool.close()


# Clients kept per process (one per project's APNs credentials in use).
MAX_CLIENTS = 16
_process = _ProcessLoop()


def _client(credentials: Any) -> Any:
    from aioapns import APNs
    from aioapns.connection import APNsDevelopmentClientProtocol, APNsProductionClientProtocol

    context = None
    if settings.PUSH_APNS_CA_FILE:
        context = ssl.create_default_context(cafile=settings.PUSH_APNS_CA_FILE)
        context.set_alpn_protocols(["h2"])
    client = APNs(
        key=credentials.key_pem,
        key_id=credentials.key_id,
        team_id=credentials.team_id,
        topic=credentials.bundle_id,
        use_sandbox=credentials.sandbox,
        max_connections=CONNECTIONS,
        max_connection_attempts=2,
        ssl_context=context,
    )
    if settings.PUSH_APNS_ENDPOINT:
        host, _, port = settings.PUSH_APNS_ENDPOINT.rpartition(":")
        base = APNsDevelopmentClientProtocol if credentials.sandbox else APNsProductionClientProtocol
        client.pool.protocol_class = type("StandInProtocol", (base,), {"APNS_SERVER": host, "APNS_PORT": int(port)})
    return client


class Apns(Provider):
    name = "apns"
    batch_size = 1000
    max_payload = 4096

    def check_token(self, token: str) -> str | None:
        return None if _TOKEN.match(token) else "Not an APNs device token (hexadecimal)."

    def payload(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> dict[str, Any]:
        aps: dict[str, Any] = {}
        alert = {key: texts[key] for key in ("title", "body") if key in texts}
        if alert:
            aps["alert"] = alert
            aps["sound"] = "default"
        else:
            aps["content-available"] = 1
        if "image" in texts:
            aps["mutable-content"] = 1
        if badge is not None:
            aps["badge"] = badge
        out: dict[str, Any] = {"aps": aps}
        if "image" in texts:
            out["image"] = texts["image"]
        for key, value in (message.get("data") or {}).items():
            out[key] = value
        return out

    def payload_size(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> int:
        return len(orjson.dumps(self.payload(message, texts, badge)))

    def send(self, credentials: Any, envelope: Envelope, items: list[Outgoing]) -> list[Outcome]:
        # The coroutine's own timeout ends it first; this one only guards against a stuck loop.
        return _process.run(self._send_all(credentials, envelope, items), timeout=BATCH_TIMEOUT_FACTOR * 2 * _http())

    async def _send_all(self, credentials: Any, envelope: Envelope, items: list[Outgoing]) -> list[Outcome]:
        from aioapns import NotificationRequest, PushType

        client = _process.client(credentials)
        message = envelope.message
        ttl = ttl_seconds(envelope.expires_at, timezone.now())
        priority = 10 if message.get("priority", "high") == "high" else 5

        async def one(item: Outgoing) -> Outcome:
            alert = bool(item.texts)
            request = NotificationRequest(
                device_token=item.token,
                message=self.payload(message, item.texts, item.badge),
                time_to_live=ttl,
                priority=priority if alert else 5,
                collapse_key=message.get("collapse_key"),
                push_type=PushType.ALERT if alert else PushType.BACKGROUND,
            )
            try:
                result = await client.send_notification(request)
            except Exception as exc:  # connection refused, closed, timeouts: try again later
                return Outcome(item.delivery_id, RETRY, f"apns: {type(exc).__name__}: {str(exc)[:120]}")
            return _outcome(item, result)

        try:
            outcomes = await asyncio.wait_for(
                asyncio.gather(*(one(item) for item in items)), timeout=BATCH_TIMEOUT_FACTOR * _http()
            )
        except TimeoutError:
            _process.drop(client)
            outcomes = [Outcome(item.delivery_id, RETRY, "apns: timed out") for item in items]
        auth = next((o for o in outcomes if o.kind == "auth"), None)
        if auth is not None:
            raise ProviderAuthError(auth.reason)
        return outcomes


def _outcome(item: Outgoing, result: Any) -> Outcome:
    if result.is_successful:
        return Outcome(item.delivery_id, SENT)
    reason = f"apns: {result.status} {result.description or ''}".strip()
    description = result.description or ""
    if result.status == "410" or description in INVALID_REASONS:
        return Outcome(item.delivery_id, INVALID, reason)
    if description in AUTH_REASONS or result.status == "403":
        return Outcome(item.delivery_id, "auth", reason)
    if result.status in ("429", "500", "503"):
        return Outcome(item.delivery_id, RETRY, reason)
    return Outcome(item.delivery_id, FAILED, reason)


PROVIDER = Apns()

"""Web Push through pywebpush: VAPID (ES256) and aes128gcm encryption, one POST per subscription.

An installation's `token` is the browser's `PushSubscription` as JSON (`JSON.stringify(sub)`).
Endpoints are client-supplied URLs the server will POST to, so private, loopback and
link-local targets are refused unless `PUSH_ALLOW_PRIVATE_ENDPOINTS` (tests) allows them.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

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
    retry_after_seconds,
)

# aes128gcm with one record: 86-byte header (salt, record size, key id) + 16-byte tag + 1 padding delimiter.
ENCRYPTION_OVERHEAD = 86 + 16 + 1
DEFAULT_TTL = 28 * 24 * 3600
THREADS = 16
_local = threading.local()


def parse_subscription(token: str) -> dict[str, Any] | None:
    try:
        sub = orjson.loads(token)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(sub, dict) or not isinstance(sub.get("endpoint"), str):
        return None
    keys = sub.get("keys")
    if not isinstance(keys, dict) or not isinstance(keys.get("p256dh"), str) or not isinstance(keys.get("auth"), str):
        return None
    return {"endpoint": sub["endpoint"], "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}}


def endpoint_allowed(endpoint: str, resolve: bool) -> bool:
    parts = urlsplit(endpoint)
    if settings.PUSH_ALLOW_PRIVATE_ENDPOINTS:
        return parts.scheme in ("https", "http") and bool(parts.hostname)
    if parts.scheme != "https" or not parts.hostname:
        return False
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return False
        if not resolve:
            return True
        try:
            addresses = [ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, parts.port or 443)]
        except (OSError, ValueError):
            return False
    return all(address.is_global for address in addresses)


@functools.lru_cache(maxsize=16)
def _vapid(private_key: str) -> Any:
    """The VAPID signer for a key, parsed once per process: pywebpush takes a `Vapid` in place of
    the key text, which it would otherwise parse again for every send (~50 µs each)."""
    from py_vapid import Vapid

    return Vapid.from_string(private_key=private_key)


def _session() -> Any:
    import requests

    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


class WebPush(Provider):
    name = "webpush"
    batch_size = 200
    max_payload = 4096

    def check_token(self, token: str) -> str | None:
        sub = parse_subscription(token)
        if sub is None:
            return "A Web Push token is the PushSubscription as JSON: {endpoint, keys: {p256dh, auth}}."
        if not endpoint_allowed(sub["endpoint"], resolve=False):
            return "The subscription endpoint must be a public https:// URL."
        return None

    def body(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> bytes:
        payload: dict[str, Any] = dict(texts)
        if message.get("data"):
            payload["data"] = message["data"]
        if badge is not None:
            payload["badge"] = badge
        return orjson.dumps(payload)

    def payload_size(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> int:
        return len(self.body(message, texts, badge)) + ENCRYPTION_OVERHEAD

    def send(self, credentials: Any, envelope: Envelope, items: list[Outgoing]) -> list[Outcome]:
        with ThreadPoolExecutor(max_workers=min(THREADS, len(items))) as pool:
            outcomes = list(pool.map(lambda item: self._one(credentials, envelope, item), items))
        auth = next((o for o in outcomes if o.kind == "auth"), None)
        if auth is not None:
            raise ProviderAuthError(auth.reason)
        return outcomes

    def _one(self, credentials: Any, envelope: Envelope, item: Outgoing) -> Outcome:
        import requests
        from pywebpush import WebPushException, webpush

        sub = parse_subscription(item.token)
        if sub is None:
            return Outcome(item.delivery_id, INVALID, "webpush: not a subscription")
        if not endpoint_allowed(sub["endpoint"], resolve=True):
            return Outcome(item.delivery_id, FAILED, "webpush: endpoint is not a public address")
        message = envelope.message
        ttl = ttl_seconds(envelope.expires_at, timezone.now())
        headers = {"Urgency": "high" if message.get("priority", "high") == "high" else "normal"}
        if message.get("collapse_key"):
            headers["Topic"] = "".join(c for c in message["collapse_key"] if c.isalnum() or c in "-_")[:32] or "x"
        try:
            response = webpush(
                subscription_info=sub,
                data=self.body(message, item.texts, item.badge),
                vapid_private_key=_vapid(credentials.private_key),
                # pywebpush writes aud/exp into this dict: a fresh one per send (EXTERNALS.md).
                vapid_claims={"sub": credentials.subject},
                content_encoding="aes128gcm",
                headers=headers,
                ttl=DEFAULT_TTL if ttl is None else ttl,
                timeout=settings.PUSH_HTTP_TIMEOUT,
                requests_session=_session(),
            )
        except WebPushException as exc:
            response = exc.response
            if response is None:
                return Outcome(item.delivery_id, RETRY, f"webpush: {str(exc)[:150]}")
        except requests.RequestException as exc:
            return Outcome(item.delivery_id, RETRY, f"webpush: {type(exc).__name__}")
        status = response.status_code
        reason = f"webpush: {status}"
        if status < 300:
            return Outcome(item.delivery_id, SENT)
        if status in (404, 410):
            return Outcome(item.delivery_id, INVALID, reason)
        if status in (401, 403):
            return Outcome(item.delivery_id, "auth", f"webpush: VAPID refused ({status})")
        if status == 429 or status >= 500:
            return Outcome(item.delivery_id, RETRY, reason, retry_after_seconds(response.headers))
        return Outcome(item.delivery_id, FAILED, reason)


PROVIDER = WebPush()

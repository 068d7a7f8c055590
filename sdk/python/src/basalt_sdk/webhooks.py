"""Verify Basalt webhook requests (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`).

    from basalt_sdk import webhooks
    event = webhooks.verify(secret, request.body, request.headers)  # raises WebhookVerificationError

De-duplicate on `event_id(headers)`: a delivery is sent at least once and may arrive twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The request was not signed with this secret, or is too old or from the future (a replay)."""


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def event_id(headers: Mapping[str, str]) -> str:
    """The `webhook-id`: the same on every attempt of one delivery."""
    return _lower(headers).get("webhook-id", "")


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(
    secret: str, body: bytes | str, headers: Mapping[str, str], *, tolerance: int = TOLERANCE_SECONDS
) -> dict[str, Any]:
    """The event (`{type, timestamp, data}`) if `body` was signed with `secret` within `tolerance` seconds."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    h = _lower(headers)
    message_id, stamp, signatures = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not message_id or not stamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if abs(time.time() - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance (a replay or a wrong clock)")
    expected = sign(secret, message_id, timestamp, raw).encode()
    # Several space-separated signatures may be sent while a secret rotates: any valid one is enough.
    if not any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures.split()):
        raise WebhookVerificationError("no signature matches this secret")
    event: dict[str, Any] = json.loads(raw)
    return event

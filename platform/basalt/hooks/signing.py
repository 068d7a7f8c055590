"""Standard Webhooks signatures: `whsec_` secrets and `v1,<base64 HMAC-SHA256(id.timestamp.body)>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from basalt.core import sealing

PREFIX = "whsec_"
_PURPOSE = b"basalt.hooks.endpoint-secret"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def seal(secret: str) -> str:
    return sealing.seal(_PURPOSE, secret.encode())


def unseal(sealed: str) -> str:
    return sealing.unseal(_PURPOSE, sealed).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    content = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }

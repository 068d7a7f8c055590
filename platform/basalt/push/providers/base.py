"""The interface every push provider implements, and what a send reports per delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

SENT, INVALID, RETRY, FAILED = "sent", "invalid", "retry", "failed"


class ProviderAuthError(Exception):
    """The provider refused our credentials: stop this provider's part of the push, do not retry."""


@dataclass(frozen=True)
class Outgoing:
    """One delivery as a provider sends it."""

    delivery_id: int
    token: str
    texts: dict[str, str]
    badge: int | None


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    kind: str  # sent | invalid | retry | failed
    reason: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class Envelope:
    """What is common to one push's deliveries: the validated message and its expiry."""

    push_id: str
    message: dict[str, Any]
    expires_at: datetime | None


class Provider:
    name: str = ""
    # Deliveries handed to one `send` call (FCM: one send_each call of at most 500 messages).
    batch_size: int = 500
    # Bytes a payload may take (for Web Push: after encryption).
    max_payload: int = 4096

    def check_token(self, token: str) -> str | None:
        """A message for the client when a token cannot be valid for this provider, else None."""
        return None

    def payload_size(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> int:
        raise NotImplementedError

    def send(self, credentials: Any, envelope: Envelope, items: list[Outgoing]) -> list[Outcome]:
        """Send every item; one Outcome per item. Raise ProviderAuthError when credentials are refused."""
        raise NotImplementedError


def retry_after_seconds(headers: Any) -> float | None:
    """Retry-After in seconds (delta form; an HTTP date is treated as a minute)."""
    if headers is None:
        return None
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 60.0


def data_strings(data: dict[str, Any] | None) -> dict[str, str]:
    """FCM data values must be strings: non-strings travel as JSON."""
    import orjson

    return {
        key: value if isinstance(value, str) else orjson.dumps(value).decode() for key, value in (data or {}).items()
    }

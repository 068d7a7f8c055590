"""An in-memory twin of a provider for unit tests: records what it was asked to send, scriptable."""

from __future__ import annotations

import threading
from typing import Any

from basalt.push import clock
from basalt.push.providers.base import SENT, Envelope, Outcome, Outgoing, Provider, ProviderAuthError


class MemoryProvider(Provider):
    def __init__(self, like: Provider, batch_size: int | None = None):
        self.name = like.name
        self.like = like
        self.batch_size = batch_size or like.batch_size
        self.max_payload = like.max_payload
        self.sent: list[tuple[str, dict[str, str], int | None, Any]] = []
        self.calls = 0
        # token → list of outcome kinds ("sent", "invalid", "retry", "failed", "auth") used in turn
        self.script: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def check_token(self, token: str) -> str | None:
        return self.like.check_token(token)

    def payload_size(self, message: dict[str, Any], texts: dict[str, str], badge: int | None) -> int:
        return self.like.payload_size(message, texts, badge)

    def send(self, credentials: Any, envelope: Envelope, items: list[Outgoing]) -> list[Outcome]:
        out = []
        with self.lock:
            self.calls += 1
            for item in items:
                steps = self.script.get(item.token)
                kind = steps.pop(0) if steps else SENT
                if kind == "auth":
                    raise ProviderAuthError("memory: credentials refused")
                if kind == SENT:
                    self.sent.append((item.token, item.texts, item.badge, clock.now()))
                out.append(Outcome(item.delivery_id, kind, "" if kind == SENT else f"memory: {kind}"))
        return out

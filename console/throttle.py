"""Slow down password guessing on the console sign-in form, per email address and per client."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache

# Failed attempts allowed in one window before sign-in is refused (even with the right password).
FAILURES_PER_EMAIL = 5
FAILURES_PER_CLIENT = 20
WINDOW_SECONDS = 15 * 60


def _keys(email: str, client: str) -> list[tuple[str, int]]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [
        (f"console:signin:email:{digest}", getattr(settings, "CONSOLE_SIGNIN_FAILURES_PER_EMAIL", FAILURES_PER_EMAIL)),
        (
            f"console:signin:client:{client}",
            getattr(settings, "CONSOLE_SIGNIN_FAILURES_PER_CLIENT", FAILURES_PER_CLIENT),
        ),
    ]


def client_address(request) -> str:
    """The peer address; X-Forwarded-For is trusted only for the configured number of proxies."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def is_blocked(email: str, client: str) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(email, client))


def record_failure(email: str, client: str) -> None:
    for key, _limit in _keys(email, client):
        # add() starts the window on the first failure; incr() never extends it.
        if not cache.add(key, 1, WINDOW_SECONDS):
            try:
                cache.incr(key)
            except ValueError:
                cache.add(key, 1, WINDOW_SECONDS)


def clear(email: str) -> None:
    cache.delete(_keys(email, "")[0][0])

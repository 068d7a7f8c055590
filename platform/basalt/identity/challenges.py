"""Short-lived single-use secrets kept server-side (AuthChallenge): mfa_token, OAuth state,
one-time exchange codes, WebAuthn challenges. Only SHA-256 is stored; spending is one
conditional UPDATE, so of concurrent redemptions exactly one wins."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone

from basalt.identity.models import AuthChallenge, EndUser
from basalt.identity.tokens import hash_token
from basalt.projects.models import Project

MAX_LENGTH = 128


def issue(
    project: Project, purpose: str, seconds: int, *, user: EndUser | None = None, data: dict | None = None
) -> str:
    raw = secrets.token_urlsafe(32)
    AuthChallenge.objects.create(
        token_hash=hash_token(raw),
        project=project,
        purpose=purpose,
        user=user,
        data=data or {},
        expires_at=timezone.now() + timedelta(seconds=seconds),
    )
    return raw


def _valid(raw: Any) -> bool:
    return isinstance(raw, str) and 20 <= len(raw) <= MAX_LENGTH


def peek(project: Project, purpose: str, raw: Any) -> AuthChallenge | None:
    """The live challenge named by `raw`, without spending it (MFA: wrong codes do not spend it)."""
    if not _valid(raw):
        return None
    return (
        AuthChallenge.objects.select_related("user")
        .filter(
            token_hash=hash_token(raw),
            project=project,
            purpose=purpose,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .first()
    )


def spend(project: Project, purpose: str, raw: Any) -> AuthChallenge | None:
    """Redeem a challenge once: None when unknown, expired, of another purpose or already spent."""
    challenge = peek(project, purpose, raw)
    if challenge is None:
        return None
    won = AuthChallenge.objects.filter(pk=challenge.pk, used_at__isnull=True).update(used_at=timezone.now())
    return challenge if won == 1 else None


def count_attempt(challenge: AuthChallenge) -> int:
    """One more wrong answer to this challenge; returns the new count."""
    from django.db.models import F

    AuthChallenge.objects.filter(pk=challenge.pk).update(attempts=F("attempts") + 1)
    return AuthChallenge.objects.filter(pk=challenge.pk).values_list("attempts", flat=True).first() or 0

"""Periodic clean-up of dead identity rows (idempotent, safe to retry, bounded per run)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from basalt.identity.models import AuthChallenge, OneTimeToken, Session

BATCH = 5000
# Revoked or expired sessions stay listed as evidence for a while (reuse detection, audits).
KEEP_ENDED_SESSIONS = timedelta(days=7)


def _delete_batch(queryset) -> int:
    ids = list(queryset.values_list("pk", flat=True)[:BATCH])
    if not ids:
        return 0
    _, per_model = queryset.model.objects.filter(pk__in=ids).delete()
    return per_model.get(queryset.model._meta.label, 0)  # not the cascaded rows


@shared_task(name="identity.purge_expired")
def purge_expired() -> dict[str, int]:
    """Drop one-time codes past expiry and sessions ended more than a week ago (with their spent tokens)."""
    now = timezone.now()
    codes = _delete_batch(OneTimeToken.objects.filter(expires_at__lt=now))
    # mfa_tokens, OAuth states, exchange codes, passkey challenges: minutes-long, dead after expiry.
    codes += _delete_batch(AuthChallenge.objects.filter(expires_at__lt=now))
    cutoff = now - KEEP_ENDED_SESSIONS
    sessions = _delete_batch(Session.objects.filter(revoked_at__lt=cutoff)) + _delete_batch(
        Session.objects.filter(refresh_expires_at__lt=cutoff)
    )
    return {"codes": codes, "sessions": sessions}

"""Periodic clean-up of ended console sessions (idempotent, bounded per run)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db.models import Q
from django.utils import timezone

from basalt.accounts.models import ConsoleSession

BATCH = 5000
# Ended sessions stay a while as evidence (a replayed refresh token still reads as a replay).
KEEP_ENDED_SESSIONS = timedelta(days=7)


@shared_task(name="accounts.purge_console_sessions")
def purge_console_sessions() -> int:
    cutoff = timezone.now() - KEEP_ENDED_SESSIONS
    ended = ConsoleSession.objects.filter(Q(revoked_at__lt=cutoff) | Q(refresh_expires_at__lt=cutoff))
    ids = list(ended.values_list("pk", flat=True)[:BATCH])
    return ConsoleSession.objects.filter(pk__in=ids).delete()[0] if ids else 0

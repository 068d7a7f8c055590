"""Turn committed change-log rows into deliveries, and send due deliveries with bounded concurrency.

Flow: a commit wakes the project's dispatcher (coalesced through the cache) → `dispatch_project`
reads the log after the project's cursor, writes one Delivery per matching enabled endpoint and
moves the cursor in the same transaction (so a row is turned into deliveries exactly once) →
after that commit, `deliver_endpoint` tasks claim due deliveries and POST them. A periodic sweep
catches up whatever a lost task left behind. Every step takes ids and is safe to run twice.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from basalt.core.json import dumps
from basalt.core.times import rfc3339_ms
from basalt.hooks import changelog, events, sender, signing
from basalt.hooks.models import Attempt, Cursor, Delivery, Endpoint
from basalt.hooks.rules import rules_for
from basalt.projects.models import Project

logger = logging.getLogger("basalt.hooks")

READ_BATCH = 500
SEND_BATCH = 50
# A task hands its slot on after this long, so one endpoint's backlog cannot hold a worker forever.
SLICE_SECONDS = 20.0
CLAIM_SECONDS = 120
_WAKE_KEY = "hooks:wake:{}"
_SLOT_KEY = "hooks:slot:{}:{}"

# Project id → (memo expiry, has enabled endpoints): the commit hook must not query per write.
_active: dict[int, tuple[float, bool]] = {}
_active_lock = threading.Lock()
ACTIVE_MEMO_SECONDS = 2.0


def forget(project_id: int) -> None:
    """Endpoints of the project changed: the next commit looks them up again."""
    with _active_lock:
        _active.pop(project_id, None)


def _has_endpoints(project_id: int) -> bool:
    now = time.monotonic()
    memo = _active.get(project_id)
    if memo and memo[0] > now:
        return memo[1]
    found = Endpoint.objects.filter(project_id=project_id, enabled=True).exists()
    with _active_lock:
        _active[project_id] = (now + ACTIVE_MEMO_SECONDS, found)
    return found


def wake(project_id: int) -> None:
    """After a commit: make sure one dispatch of the project is queued (many commits → one task)."""
    try:
        if not _has_endpoints(project_id):
            return
        if cache.add(_WAKE_KEY.format(project_id), 1, timeout=30):
            from basalt.hooks import tasks

            tasks.dispatch.delay(project_id)
    except Exception:  # the write has committed; the sweep catches up what a broker outage drops
        logger.warning("could not wake the webhook dispatcher of project %s", project_id, exc_info=True)


def _now_text() -> str:
    return rfc3339_ms(timezone.now())


def dispatch_project(project_id: int) -> int:
    """Turn every committed change after the cursor into deliveries; returns how many were made."""
    cache.delete(_WAKE_KEY.format(project_id))  # commits from now on wake another run
    made = 0
    for _ in range(100):  # bounded per task; the next wake or sweep continues
        created, touched, more = _dispatch_batch(project_id)
        made += created
        for endpoint_id in touched:
            transaction.on_commit(lambda e=endpoint_id: _kick(e))
        if not more:
            break
    return made


def _lock_cursor(project_id: int) -> Cursor:
    # Normally made with the project's first endpoint (services.create_endpoint); this is the fallback.
    first = Endpoint.objects.filter(project_id=project_id).order_by("start_seq").values_list("start_seq", flat=True)
    Cursor.objects.get_or_create(project_id=project_id, defaults={"seq": first.first() or 0})
    rows = Cursor.objects.filter(project_id=project_id)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update()
    return rows.get()


def _dispatch_batch(project_id: int) -> tuple[int, set[str], bool]:
    with transaction.atomic():
        cursor = _lock_cursor(project_id)
        changes = changelog.read_after(project_id, cursor.seq, READ_BATCH)
        if not changes:
            return 0, set(), False
        enabled = Endpoint.objects.filter(project_id=project_id, enabled=True).select_related("project")
        endpoints = [rules_for(e) for e in enabled]
        ref = Project.objects.filter(id=project_id).values_list("ref", flat=True).first() or ""
        rows = []
        for change in changes:
            event = events.event_of(change)
            payload = None
            for rules in endpoints:
                if change.seq <= rules.endpoint.start_seq or not rules.wants(event, change):
                    continue
                payload = payload or events.payload_of(change, ref, _now_text())
                rows.append(
                    Delivery(
                        endpoint_id=rules.endpoint.id,
                        project_id=project_id,
                        event=event,
                        seq=change.seq,
                        payload=payload,
                    )
                )
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        Cursor.objects.filter(project_id=project_id).update(seq=changes[-1].seq)
        return len(rows), {row.endpoint_id for row in rows}, len(changes) == READ_BATCH


def emit(project_id: int, event: str, data: dict[str, Any], endpoint: Endpoint | None = None) -> list[Delivery]:
    """An event outside the change log (a ping; later files, push): deliveries in the caller's transaction."""
    ref = Project.objects.filter(id=project_id).values_list("ref", flat=True).first() or ""
    if endpoint is not None:
        targets = [endpoint]
    else:
        enabled = Endpoint.objects.filter(project_id=project_id, enabled=True)
        targets = [r.endpoint for r in map(rules_for, enabled) if r.wants(event, None)]
    payload = {"type": event, "timestamp": _now_text(), "data": {"project": ref, **data}}
    made = [Delivery.objects.create(endpoint=e, project_id=project_id, event=event, payload=payload) for e in targets]
    for e in targets:
        transaction.on_commit(lambda e=e.id: _kick(e))
    return made


def _kick(endpoint_id: str) -> None:
    from basalt.hooks import tasks

    try:
        tasks.deliver.delay(endpoint_id)
    except Exception:
        logger.warning("could not queue deliveries of endpoint %s", endpoint_id, exc_info=True)


# --- sending -------------------------------------------------------------------------------------


def _take_slot(endpoint_id: str) -> str | None:
    """One of the endpoint's WEBHOOK_CONCURRENCY send slots, or None when all are busy."""
    token = uuid.uuid4().hex
    for n in range(max(1, settings.WEBHOOK_CONCURRENCY)):
        key = _SLOT_KEY.format(endpoint_id, n)
        if cache.add(key, token, timeout=int(SLICE_SECONDS + settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 5)):
            return key
    return None


def _due_now() -> Q:
    """Waiting deliveries whose time has come, and claims lost with their worker."""
    now = timezone.now()
    return Q(status=Delivery.PENDING, next_attempt_at__lte=now) | Q(status=Delivery.SENDING, claimed_until__lt=now)


def _due(endpoint_id: str):
    return Delivery.objects.filter(endpoint_id=endpoint_id).filter(_due_now())


def _claim(endpoint_id: str) -> list[Delivery]:
    with transaction.atomic():
        rows = _due(endpoint_id).order_by("next_attempt_at", "seq", "created_at")
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        claimed = list(rows[:SEND_BATCH])
        if claimed:
            until = timezone.now() + timedelta(seconds=CLAIM_SECONDS)
            Delivery.objects.filter(id__in=[d.id for d in claimed]).update(status=Delivery.SENDING, claimed_until=until)
        return claimed


def deliver_endpoint(endpoint_id: str) -> int:
    """Send the endpoint's due deliveries for up to SLICE_SECONDS while holding one of its slots."""
    slot = _take_slot(endpoint_id)
    if slot is None:
        return 0  # as many senders as allowed are at work on this endpoint; they pick these up
    sent = 0
    started = time.monotonic()
    try:
        with sender.client() as http:
            while time.monotonic() - started < SLICE_SECONDS:
                endpoint = Endpoint.objects.filter(id=endpoint_id, enabled=True).first()
                if endpoint is None:
                    break
                batch = _claim(endpoint_id)
                if not batch:
                    break
                secret = signing.unseal(endpoint.secret_sealed)
                done = _send_batch(http, endpoint, secret, batch, started)
                sent += done
                if done < len(batch):
                    break  # a failing receiver, or the slice is over: the rest were released
    finally:
        cache.delete(slot)
    if _due(endpoint_id).exists() and Endpoint.objects.filter(id=endpoint_id, enabled=True).exists():
        _kick(endpoint_id)
    return sent


def _release(rows: list[Delivery]) -> None:
    if rows:
        Delivery.objects.filter(id__in=[d.id for d in rows], status=Delivery.SENDING).update(
            status=Delivery.PENDING, claimed_until=None
        )


def backoff_seconds(attempts: int) -> float:
    """Exponential from WEBHOOK_RETRY_BASE_SECONDS, capped at an hour, with jitter (50–100 %)."""
    raw = min(3600.0, settings.WEBHOOK_RETRY_BASE_SECONDS * (2 ** max(0, attempts - 1)))
    return raw * random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not a secret)


def _send_batch(http, endpoint: Endpoint, secret: str, batch: list[Delivery], started: float) -> int:
    """Send claimed deliveries in order until one fails; successes are recorded together (few queries)."""
    succeeded: list[tuple[Delivery, sender.Outcome]] = []
    try:
        for n, delivery in enumerate(batch):
            if time.monotonic() - started >= SLICE_SECONDS:
                _release(batch[n:])
                break
            body = dumps(delivery.payload)
            headers = signing.headers(secret, delivery.id, int(time.time()), body)
            outcome = sender.post(http, endpoint.url, body, headers)
            if outcome.ok:
                succeeded.append((delivery, outcome))
                continue
            _record_failure(endpoint, delivery, outcome)
            _release(batch[n + 1 :])  # the rest wait for the receiver's next try
            break
    finally:
        _record_successes(endpoint, succeeded)
    return len(succeeded)


def _attempt_row(delivery: Delivery, outcome: sender.Outcome, at) -> Attempt:
    return Attempt(
        delivery=delivery,
        number=delivery.attempts + 1,
        status_code=outcome.status_code,
        latency_ms=outcome.latency_ms,
        response=outcome.response,
        error=outcome.error,
        at=at,
    )


def _record_successes(endpoint: Endpoint, succeeded: list[tuple[Delivery, sender.Outcome]]) -> None:
    if not succeeded:
        return
    now = timezone.now()
    Attempt.objects.bulk_create([_attempt_row(d, o, now) for d, o in succeeded])
    by_status: dict[int | None, list[str]] = {}
    for delivery, outcome in succeeded:
        by_status.setdefault(outcome.status_code, []).append(delivery.id)
    for status, ids in by_status.items():
        Delivery.objects.filter(id__in=ids).update(
            status=Delivery.SUCCEEDED,
            attempts=F("attempts") + 1,
            last_status_code=status,
            last_error="",
            claimed_until=None,
            finished_at=now,
        )
    if endpoint.failing_since is not None:
        Endpoint.objects.filter(id=endpoint.id).update(failing_since=None)


def _record_failure(endpoint: Endpoint, delivery: Delivery, outcome: sender.Outcome) -> None:
    """Retry later with backoff, or give up once the delivery's retry window is over."""
    now = timezone.now()
    attempt = _attempt_row(delivery, outcome, now)
    attempt.save()
    fields: dict[str, Any] = {
        "attempts": attempt.number,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error,
        "claimed_until": None,
    }
    if now - delivery.window_start >= timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS):
        fields.update(status=Delivery.FAILED, finished_at=now)
    else:
        later = now + timedelta(seconds=backoff_seconds(attempt.number))
        fields.update(status=Delivery.PENDING, next_attempt_at=later)
    Delivery.objects.filter(id=delivery.id).update(**fields)
    _note_failure(endpoint, now)


def _note_failure(endpoint: Endpoint, now) -> None:
    """Start the endpoint's failure clock, or disable it once it has failed for WEBHOOK_DISABLE_AFTER_SECONDS."""
    Endpoint.objects.filter(id=endpoint.id, failing_since__isnull=True).update(failing_since=now)
    since = Endpoint.objects.filter(id=endpoint.id).values_list("failing_since", flat=True).first()
    if since is not None and now - since >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS):
        disabled = Endpoint.objects.filter(id=endpoint.id, enabled=True).update(
            enabled=False,
            disabled_at=now,
            disabled_reason="Disabled automatically: every delivery failed for 24 hours.",  # services.AUTO_DISABLED
            updated_at=now,
        )
        if disabled:
            forget(endpoint.project_id)
            logger.warning("webhook endpoint %s disabled after failing since %s", endpoint.id, since)


def sweep() -> None:
    """Periodic catch-up: dispatch projects whose cursor is behind, kick endpoints with due deliveries."""
    project_ids = set(Endpoint.objects.filter(enabled=True).values_list("project_id", flat=True))
    changelog.number_left_behind(list(project_ids))
    cursors = dict(Cursor.objects.filter(project_id__in=project_ids).values_list("project_id", "seq"))
    for project_id in project_ids:
        if changelog.head(project_id) > cursors.get(project_id, -1):
            dispatch_project(project_id)
    due = Delivery.objects.filter(endpoint__enabled=True).filter(_due_now()).values_list("endpoint_id", flat=True)
    for endpoint_id in list(due.distinct()[:1000]):
        _kick(endpoint_id)

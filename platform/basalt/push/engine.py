"""The delivery engine: fan a push out into delivery rows, claim them in batches, send, mark.

Each delivery moves pending → claimed → sending → sent | failed | invalid, one committed step at
a time, so a worker killed at any point leaves a state that says what happened:
- `claimed` rows were taken but not yet handed to the network: after the lease they go back to
  `pending` and are sent once, by another worker;
- `sending` rows were on the wire: they may or may not have arrived, so after the lease they
  become `in_flight_at_crash` (counted, never silently resent nor dropped).
Claims are `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING` on PostgreSQL; on
SQLite the same statement inside an IMMEDIATE transaction (one writer at a time) is the claim.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from basalt.push import audience, clock, credentials, installations, message, providers
from basalt.push.models import Delivery, Push
from basalt.push.providers.base import FAILED, INVALID, RETRY, SENT, Envelope, Outgoing, ProviderAuthError

logger = logging.getLogger("basalt.push")
OPEN = (Delivery.PENDING, Delivery.CLAIMED, Delivery.SENDING)
# The most hours any zone is ahead of UTC (Pacific/Kiritimati): a local-time push fans out then.
MAX_UTC_OFFSET = timedelta(hours=14)
MAX_BACKOFF_SECONDS = 600


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


# --- fan-out ----------------------------------------------------------------------------------
def local_instant(wall: datetime, zone: str) -> datetime:
    """The UTC instant at which a device in `zone` shows the wall time `wall` (naive)."""
    try:
        tz = zoneinfo.ZoneInfo(zone) if zone else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        tz = UTC
    return wall.replace(tzinfo=tz).astimezone(UTC)


def fan_out(push_id: str, on_first_chunk: Callable[[], None] | None = None) -> bool:
    """Write one delivery per targeted installation, chunk by chunk; resumable after a crash.

    Each chunk is one transaction holding the push row's lock and starting from the position it
    reads under that lock, so two runs fanning out the same push (a tick's re-run while the first
    is still going, a helper) take turns chunk by chunk: none is written twice, and no badge is
    raised twice. `on_first_chunk` is called once the first chunk is committed (senders may start).
    Returns False when the push is not (or no longer) due for fan-out."""
    push = Push.objects.select_related("project").filter(pk=push_id).first()
    if push is None or push.fanned_out or push.status not in (Push.SCHEDULED, Push.SENDING):
        return False
    if push.fan_out_at > clock.now():
        return False
    Push.objects.filter(pk=push.pk, status=Push.SCHEDULED).update(status=Push.SENDING)
    selection = audience.select(push.project, push.audience, credentials.configured(push.project))
    badge = push.message.get("badge")
    wall = push.send_at.astimezone(UTC).replace(tzinfo=None) if push.local_time and push.send_at else None
    default_due = push.send_at or push.created_at
    # Nothing computed per installation: PostgreSQL copies the audience into deliveries itself.
    copy_in_sql = badge is None and wall is None and connection.vendor == "postgresql"
    while True:
        with transaction.atomic():
            held = Push.objects.select_for_update().filter(pk=push.pk).values("fanned_out", "fan_out_after").first()
            if held is None or held["fanned_out"]:
                return held is not None
            if copy_in_sql:
                taken, after = audience.copy_chunk(
                    selection, push.pk, default_due, Delivery.PENDING, after=held["fan_out_after"], size=audience.CHUNK
                )
            else:
                taken, after = _fan_out_chunk(push, selection, held["fan_out_after"], badge, wall, default_due)
            last = taken < audience.CHUNK
            Push.objects.filter(pk=push.pk).update(fan_out_after=after or held["fan_out_after"], fanned_out=last)
        if taken and on_first_chunk is not None:
            on_first_chunk()
            on_first_chunk = None
        if last:
            return True


def _fan_out_chunk(
    push: Push, selection: audience.Selection, after: str, badge: Any, wall: datetime | None, default_due: datetime
) -> tuple[int, str]:
    """The general path: read a chunk of targets, raise badges, compute local instants, insert."""
    chunk = audience.chunk(selection, after=after, size=audience.CHUNK)
    if not chunk:
        return 0, after
    # Badges first, under the installations' row locks: each delivery carries the badge its
    # installation now holds, even when two pushes raise it at the same moment.
    badges = _set_badges(push, chunk, badge) if badge is not None else {}
    _insert_deliveries(
        push.pk,
        [
            (
                target.installation_id,
                target.provider,
                target.token,
                (target.locale or "")[:35],
                badges.get(target.installation_id, target.badge if badge is not None else None),
                local_instant(wall, target.timezone) if wall is not None else default_due,
            )
            for target in chunk
        ],
    )
    return len(chunk), chunk[-1].installation_id


def _insert_deliveries(push_id: str, rows: list[tuple]) -> None:
    """One delivery per (installation, provider, token, locale, badge, due_at); existing ones kept.

    PostgreSQL: one INSERT … SELECT FROM unnest(arrays) per chunk (profiled: Django's bulk_create
    spent 0.8 ms a row compiling and binding 12 parameters per row, most of a 3,000-device fan-out);
    SQLite: bulk_create, in-process anyway."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        Delivery.objects.bulk_create(
            [
                Delivery(
                    push_id=push_id,
                    installation_id=installation_id,
                    provider=provider,
                    token=token,
                    locale=locale,
                    badge=badge,
                    due_at=due_at,
                )
                for installation_id, provider, token, locale, badge, due_at in rows
            ],
            ignore_conflicts=True,
            batch_size=500,
        )
        return
    columns = list(zip(*rows, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_push_delivery (push_id, installation_id, provider, token, locale, badge, due_at, "
            "status, attempts, claimed_by, reason) "
            "SELECT %s, i, p, t, l, b, d, %s, 0, '', '' "
            "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::timestamptz[]) "
            "AS u(i, p, t, l, b, d) ON CONFLICT DO NOTHING",
            [push_id, Delivery.PENDING, *[list(column) for column in columns]],
        )


def _set_badges(push: Push, chunk: list[audience.Target], badge: Any) -> dict[str, int]:
    """Raise (`increment`) or set each targeted installation's badge through the documents service
    (a change-log row each, one batch per chunk); returns the badge each installation now holds."""
    from basalt.documents.services import edit_documents
    from basalt.push.builtin import INSTALLATIONS

    def change(data: dict[str, Any]) -> dict[str, Any]:
        current = data.get("badge")
        if not isinstance(current, int) or isinstance(current, bool):
            current = 0
        return {**data, "badge": current + 1 if badge == "increment" else badge}

    edited = edit_documents(push.project, INSTALLATIONS, [t.installation_id for t in chunk], change)
    held = {t.installation_id: t.badge for t in chunk}
    held.update({doc_id: data["badge"] for doc_id, data in edited.items()})
    return held


# --- claims -----------------------------------------------------------------------------------
def claim(push_id: str, provider: str, limit: int, worker: str) -> list[tuple]:
    """Take up to `limit` due pending deliveries of one push and provider for this worker."""
    now = clock.now()
    skip = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    # Only an integer and a constant are formatted in.
    sql = (
        "UPDATE basalt_push_delivery SET status = %s, claimed_by = %s, claimed_at = %s WHERE id IN ("  # noqa: S608
        "SELECT id FROM basalt_push_delivery WHERE push_id = %s AND provider = %s AND status = %s AND due_at <= %s "
        f"ORDER BY id LIMIT {int(limit)}{skip}) RETURNING id, installation_id, token, locale, badge, attempts"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql,
            [Delivery.CLAIMED, worker, _db(now), push_id, provider, Delivery.PENDING, _db(now)],
        )
        return sorted(cursor.fetchall())


def _db(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def due_providers(push_id: str) -> list[str]:
    """Providers with a due pending delivery: one EXISTS per provider, each a short walk of
    `delivery_queue` (a DISTINCT over the push's pending rows read them all, once per batch)."""
    names = providers.names()
    probes = " UNION ALL ".join(
        "SELECT %s WHERE EXISTS (SELECT 1 FROM basalt_push_delivery WHERE push_id = %s AND provider = %s "
        "AND status = %s AND due_at <= %s)"
        for _ in names
    )
    now = _db(clock.now())
    params = [value for name in names for value in (name, push_id, name, Delivery.PENDING, now)]
    with connection.cursor() as cursor:
        cursor.execute(probes, params)
        return [row[0] for row in cursor.fetchall()]


def recover_abandoned(push_id: str | None = None) -> dict[str, int]:
    """Deal with deliveries whose worker held them past the lease (it crashed or was killed)."""
    cutoff = clock.now() - timedelta(seconds=settings.PUSH_LEASE_SECONDS)
    scope = Delivery.objects.filter(claimed_at__lt=cutoff)
    if push_id is not None:
        scope = scope.filter(push_id=push_id)
    requeued = scope.filter(status=Delivery.CLAIMED).update(status=Delivery.PENDING, claimed_by="", claimed_at=None)
    crashed = scope.filter(status=Delivery.SENDING).update(
        status=Delivery.IN_FLIGHT_AT_CRASH,
        reason="worker stopped while the request was on the wire",
        finished_at=clock.now(),
    )
    if requeued or crashed:
        logger.warning("push recovery: %s requeued, %s in flight at crash", requeued, crashed)
    return {"requeued": requeued, "in_flight_at_crash": crashed}


# --- sending ----------------------------------------------------------------------------------
def backoff_seconds(attempts: int, retry_after: float | None) -> float:
    base = min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts - 1))
    jittered = base * (0.5 + random.random() / 2)  # noqa: S311 (spreading retries, not security)
    return min(MAX_BACKOFF_SECONDS * 6, max(jittered, retry_after or 0.0))


def send_batch(push: Push, provider_name: str, worker: str) -> int:
    """Claim, send and mark one batch; returns how many deliveries it handled (0: nothing due)."""
    started = time.perf_counter()
    provider = providers.get(provider_name)
    rows = claim(push.pk, provider_name, provider.batch_size, worker)
    if not rows:
        return 0
    ids = [row[0] for row in rows]
    now = clock.now()
    if push.expires_at is not None and push.expires_at <= now:
        _finish(ids, Delivery.FAILED, "expired before it could be sent")
        return len(ids)
    creds = credentials.load(push.project, provider_name)
    if creds is None:
        _finish(ids, Delivery.FAILED, f"{provider_name} credentials were removed")
        return len(ids)
    items = [
        Outgoing(delivery_id=row[0], token=row[2], texts=message.texts_for(push.message, row[3] or ""), badge=row[4])
        for row in rows
    ]
    attempts = {row[0]: row[5] for row in rows}
    logger.info("push %s: %s batch of %d", push.pk, provider_name, len(items))
    envelope = Envelope(push_id=push.pk, message=push.message, expires_at=push.expires_at)
    # On the wire from here: a crash now leaves these `sending` → in_flight_at_crash.
    _set(ids, {"status": Delivery.SENDING}, {"claimed_by": worker, "status": Delivery.CLAIMED})
    on_wire = time.perf_counter()
    try:
        outcomes = provider.send(creds, envelope, items)
    except ProviderAuthError as exc:
        stop_provider(push, provider_name, str(exc), ids)
        return len(ids)
    except Exception as exc:  # an unexpected library failure: treat the batch as retryable
        logger.exception("push %s: %s batch failed", push.pk, provider_name)
        from basalt.push.providers.base import Outcome

        outcomes = [Outcome(item.delivery_id, RETRY, f"{provider_name}: {type(exc).__name__}") for item in items]
    answered = time.perf_counter()
    record(push, outcomes, attempts)
    # Where a batch's time goes (the bench reads these at DEBUG): database before, wire, database after.
    logger.debug(
        "push %s: %s batch timing: claim+mark %.0f ms, send %.0f ms, record %.0f ms",
        push.pk,
        provider_name,
        1000 * (on_wire - started),
        1000 * (answered - on_wire),
        1000 * (time.perf_counter() - answered),
    )
    return len(ids)


def _finish(ids: list[int], status: str, reason: str) -> None:
    _set(ids, {"status": status, "reason": reason[:200], "finished_at": clock.now()})


def _set(ids: list[int], fields: dict[str, Any], where: dict[str, Any] | None = None) -> int:
    """UPDATE deliveries by id (field names are their column names). PostgreSQL: the ids travel as
    one array parameter; Django's `pk__in` resolved, adapted and bound 500 parameters one by one
    (profiled: most of a batch's own CPU outside the provider library)."""
    where = where or {}
    if connection.vendor != "postgresql":
        return Delivery.objects.filter(pk__in=ids, **where).update(**fields)
    assignments = ", ".join(f"{name} = %s" for name in fields)
    conditions = "".join(f" AND {name} = %s" for name in where)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE basalt_push_delivery SET {assignments} WHERE id = ANY(%s::bigint[]){conditions}",  # noqa: S608
            [*fields.values(), _bigint_array(ids), *where.values()],
        )
        return cursor.rowcount


def _bigint_array(ids: list[int]) -> str:
    """An array literal for `%s::bigint[]`: Django's psycopg binds on the client, and dumping a
    Python list there quotes it element by element in Python (ListDumper showed in py-spy profiles)."""
    return "{" + ",".join(str(int(value)) for value in ids) + "}"


def record(push: Push, outcomes: list[Any], attempts: dict[int, int]) -> None:
    now = clock.now()
    by_kind: dict[str, list[Any]] = {}
    for outcome in outcomes:
        by_kind.setdefault(outcome.kind, []).append(outcome)
    with transaction.atomic():
        sent = [o.delivery_id for o in by_kind.get(SENT, [])]
        if sent:
            _set(sent, {"status": Delivery.SENT, "finished_at": now, "reason": ""})
        # One UPDATE per distinct (status, reason, attempts), not one per delivery: a batch of 500
        # invalid tokens or failures usually shares a handful of reasons.
        ended: dict[tuple[str, str, int | None], list[int]] = {}
        for kind, status in ((INVALID, Delivery.INVALID), (FAILED, Delivery.FAILED)):
            for outcome in by_kind.get(kind, []):
                ended.setdefault((status, outcome.reason[:200], None), []).append(outcome.delivery_id)
        retry_rows = []
        for outcome in by_kind.get(RETRY, []):
            tries = attempts.get(outcome.delivery_id, 0) + 1
            if tries >= settings.PUSH_MAX_ATTEMPTS:
                reason = f"gave up after {tries} attempts: {outcome.reason}"[:200]
                ended.setdefault((Delivery.FAILED, reason, tries), []).append(outcome.delivery_id)
                continue
            retry_rows.append(
                Delivery(
                    pk=outcome.delivery_id,
                    status=Delivery.PENDING,
                    attempts=tries,
                    due_at=now + timedelta(seconds=backoff_seconds(tries, outcome.retry_after)),
                    claimed_by="",
                    claimed_at=None,
                    reason=outcome.reason[:200],
                )
            )
        for (status, reason, tries), ids in ended.items():
            fields: dict[str, Any] = {"status": status, "reason": reason, "finished_at": now}
            if tries is not None:
                fields["attempts"] = tries
            _set(ids, fields)
        if retry_rows:
            Delivery.objects.bulk_update(
                retry_rows, ["status", "attempts", "due_at", "claimed_by", "claimed_at", "reason"], batch_size=500
            )
        invalid = list(
            Delivery.objects.filter(pk__in=[o.delivery_id for o in by_kind.get(INVALID, [])]).values_list(
                "installation_id", flat=True
            )
        )
        installations.deactivate(push.project, invalid)


def stop_provider(push: Push, provider_name: str, error: str, in_hand: list[int]) -> None:
    """Credentials refused: fail this provider's remaining deliveries of the push, say why, no retries."""
    reason = f"{provider_name} refused the credentials"
    now = clock.now()
    with transaction.atomic():
        Delivery.objects.filter(pk__in=in_hand).update(status=Delivery.FAILED, reason=reason, finished_at=now)
        Delivery.objects.filter(push_id=push.pk, provider=provider_name, status=Delivery.PENDING).update(
            status=Delivery.FAILED, reason=reason, finished_at=now
        )
        text = f"{provider_name}: authentication failed ({error[:300]}); fix the credentials in the push settings."
        Push.objects.filter(pk=push.pk).update(error=text)
    logger.error("push %s stopped for %s: %s", push.pk, provider_name, error[:300])


def maybe_finish(push_id: str) -> bool:
    """Close the push once no delivery is open; returns True when it is finished."""
    push = Push.objects.filter(pk=push_id).first()
    if push is None or push.status not in (Push.SENDING,) or not push.fanned_out:
        return push is not None and push.status in (Push.DONE, Push.FAILED, Push.CANCELLED)
    if Delivery.objects.filter(push_id=push_id, status__in=OPEN).exists():
        return False
    status = Push.FAILED if push.error else Push.DONE
    Push.objects.filter(pk=push_id, status=Push.SENDING).update(status=status, finished_at=clock.now())
    from basalt.push import events

    events.finished(push_id)
    return True


# How long a helper waits for deliveries while the fan-out is still writing them.
HELPER_IDLE_SECONDS = 5.0


def run(
    push_id: str,
    *,
    max_batches: int | None = None,
    helper: bool = False,
    on_first_chunk: Callable[[], None] | None = None,
) -> str:
    """Work on one push until nothing is due now; returns its status afterwards.

    A helper (one of several runs sending the same push at once) does not fan out: it claims
    what the fan-out has written so far, waiting while it is still writing."""
    worker = worker_name()
    if helper:
        push = Push.objects.filter(pk=push_id).first()
        if push is None or push.status != Push.SENDING:
            return push.status if push else "missing"
    elif not fan_out(push_id, on_first_chunk):
        push = Push.objects.filter(pk=push_id).first()
        if push is None:
            return "missing"
        if push.status == Push.SCHEDULED:
            return push.status
    recover_abandoned(push_id)
    done = 0
    idle_since = time.monotonic()
    while max_batches is None or done < max_batches:
        push = Push.objects.select_related("project").filter(pk=push_id).first()
        if push is None or push.status != Push.SENDING:
            break
        names = due_providers(push_id)
        handled = sum(send_batch(push, name, worker) for name in names)
        done += 1
        if handled:
            idle_since = time.monotonic()
            continue
        if not helper or push.fanned_out or time.monotonic() - idle_since > HELPER_IDLE_SECONDS:
            break
        time.sleep(0.1)  # a helper ahead of the fan-out
    maybe_finish(push_id)
    push = Push.objects.filter(pk=push_id).first()
    return push.status if push else "missing"


def next_due(push_id: str) -> datetime | None:
    row = (
        Delivery.objects.filter(push_id=push_id, status=Delivery.PENDING)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    return row


def open_pushes() -> list[str]:
    """Pushes with work now: due to fan out, or sending with due or abandoned deliveries."""
    now = clock.now()
    due = list(
        Push.objects.filter(
            Q(status=Push.SCHEDULED, fan_out_at__lte=now) | Q(status=Push.SENDING, fanned_out=False)
        ).values_list("pk", flat=True)[:100]
    )
    cutoff = now - timedelta(seconds=settings.PUSH_LEASE_SECONDS)
    active = (
        Delivery.objects.filter(
            Q(status=Delivery.PENDING, due_at__lte=now)
            | Q(status__in=(Delivery.CLAIMED, Delivery.SENDING), claimed_at__lt=cutoff)
        )
        .values_list("push_id", flat=True)
        .distinct()[:100]
    )
    finishing = (
        Push.objects.filter(status=Push.SENDING, fanned_out=True)
        .exclude(pk__in=Delivery.objects.filter(status__in=OPEN).values("push_id"))
        .values_list("pk", flat=True)[:100]
    )
    return list(dict.fromkeys([*due, *active, *finishing]))

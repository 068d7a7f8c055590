"""Count requests and pushes per project and UTC day in the cache, off the database hot path.

The cache is Redis in production (shared by every process) and locmem in the embedded profile
(one process). Counters are moved into `UsageDay` rows by `flush`, from a beat task and when the
usage endpoint is read. A counter is decremented by exactly the amount written to the database,
so increments that land during a flush are kept for the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from basalt.usage.models import UsageDay

logger = logging.getLogger("basalt.usage")

METRICS = ("requests", "pushes")
# Counters outlive a missed flush or two; flushes look this many days back.
KEEP_DAYS = 3
TTL_SECONDS = KEEP_DAYS * 24 * 3600 + 3600
LOCK_SECONDS = 60


def utc_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(UTC).date()


def counter_key(project_id: int, metric: str, day: date) -> str:
    return f"usage:{metric}:{project_id}:{day:%Y%m%d}"


# Each process sums its counts locally and adds them to the shared cache at most once per
# PUSH_INTERVAL: two cache round trips per API request cost more than the request's own key lookup.
# Other processes' counts therefore show up to PUSH_INTERVAL late; this process's never do, because
# every read below pushes first.
PUSH_INTERVAL_SECONDS = 1.0
# Keyed by (project, metric, day): the cache key's text is made once per push, not per request.
_buffer: dict[tuple[int, str, date], int] = {}
_buffer_lock = threading.Lock()
_last_push = 0.0


def record(project_id: int, metric: str = "requests", amount: int = 1, now: datetime | None = None) -> None:
    """Add to today's counter; a cache outage loses the count, never the request."""
    if metric not in METRICS or amount <= 0:
        raise ValueError(f"unknown usage metric or amount: {metric!r} {amount!r}")
    key = (project_id, metric, utc_today(now))
    with _buffer_lock:
        _buffer[key] = _buffer.get(key, 0) + amount
        due = time.monotonic() - _last_push >= PUSH_INTERVAL_SECONDS
    if due:
        push_buffered()


def push_buffered() -> None:
    """Add this process's buffered counts to the shared cache counters."""
    global _last_push
    with _buffer_lock:
        items = list(_buffer.items())
        _buffer.clear()
        _last_push = time.monotonic()
    for (project_id, metric, day), amount in items:
        _add_to_counter(counter_key(project_id, metric, day), amount)


def discard_buffered() -> None:
    """Forget unpushed counts (tests start each case with an empty cache and buffer)."""
    with _buffer_lock:
        _buffer.clear()


def _add_to_counter(key: str, amount: int) -> None:
    try:
        try:
            cache.incr(key, amount)
        except ValueError:
            # add() starts the counter once; if another process won the race, incr() its value.
            if not cache.add(key, amount, TTL_SECONDS):
                cache.incr(key, amount)
    except Exception:  # noqa: BLE001 (metering must never fail the request it measures)
        logger.warning("usage counter %s not recorded", key, exc_info=True)


def recent_days(now: datetime | None = None) -> list[date]:
    today = utc_today(now)
    return [today - timedelta(days=n) for n in range(KEEP_DAYS)]


def pending(project_ids: Iterable[int], now: datetime | None = None) -> dict[tuple[int, date, str], int]:
    """Counter values not yet flushed, keyed by (project id, day, metric)."""
    push_buffered()
    keys = {
        counter_key(pid, metric, day): (pid, day, metric)
        for pid in project_ids
        for day in recent_days(now)
        for metric in METRICS
    }
    found = cache.get_many(list(keys)) if keys else {}
    return {keys[key]: int(value) for key, value in found.items() if int(value or 0) > 0}


def _add_to_day(project_id: int, day: date, metric: str, amount: int) -> None:
    changes = {metric: F(metric) + amount, "updated_at": timezone.now()}
    if UsageDay.objects.filter(project_id=project_id, day=day).update(**changes):
        return
    try:
        with transaction.atomic():
            UsageDay.objects.create(project_id=project_id, day=day, **{metric: amount})
    except IntegrityError:
        # Another flusher created the row first: add to it instead.
        UsageDay.objects.filter(project_id=project_id, day=day).update(**changes)


def flush(project_ids: Iterable[int], now: datetime | None = None) -> int:
    """Move the given projects' counters into UsageDay rows; returns how many counts moved.

    A cache lock per project keeps two flushers (beat and a usage read) from both writing the
    same counter value. A project whose lock is held is skipped; its counts wait for next time.
    """
    moved = 0
    for project_id in project_ids:
        lock = f"usage:flush-lock:{project_id}"
        if not cache.add(lock, 1, LOCK_SECONDS):
            continue
        try:
            for (pid, day, metric), amount in pending([project_id], now).items():
                try:
                    cache.decr(counter_key(pid, metric, day), amount)
                except ValueError:
                    pass  # expired between read and decrement: the value read is all there was
                _add_to_day(pid, day, metric, amount)
                moved += amount
        finally:
            cache.delete(lock)
    return moved


def flush_all(now: datetime | None = None, chunk: int = 500) -> int:
    """Flush every project with pending counts; one cache round trip per `chunk` projects to find them."""
    from basalt.projects.models import Project

    ids = list(Project.objects.order_by("id").values_list("id", flat=True))
    moved = 0
    for start in range(0, len(ids), chunk):
        busy = sorted({pid for pid, _day, _metric in pending(ids[start : start + chunk], now)})
        moved += flush(busy, now)
    return moved

"""The usage report of one project for a console member (API.md §8: viewers may read it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from basalt.core.errors import ValidationFailed
from basalt.core.times import rfc3339_ms
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from basalt.usage import counters, sizes
from basalt.usage.models import UsageDay

DEFAULT_DAYS = 30
MAX_DAYS = 366


def parse_days(raw: Any) -> int:
    if raw is None or raw == "":
        return DEFAULT_DAYS
    text = str(raw)
    # Bounded before int(): past 4,300 digits int() raises ValueError.
    if not text.isascii() or not text.isdigit() or len(text) > 3 or not 1 <= int(text) <= MAX_DAYS:
        raise ValidationFailed(details={"days": [f"A whole number of days from 1 to {MAX_DAYS}."]})
    return int(text)


def project_usage(account, ref: str, days: Any = None) -> dict[str, Any]:
    """Requests and pushes per day (oldest first, every day present), sizes now and per collection."""
    window = parse_days(days)
    project = access_project(account, ref, Perm.VIEW)
    counters.flush([project.id])
    today = counters.utc_today()
    first = today - timedelta(days=window - 1)
    stored = {row.day: row for row in UsageDay.objects.filter(project_id=project.id, day__gte=first, day__lte=today)}
    # Counts a concurrent flusher still holds: shown now, written by that flusher.
    unflushed = counters.pending([project.id])
    collections, sizes_measured_at = sizes.collection_sizes(project.id)
    documents = sum(row["documents"] for row in collections)
    other = sizes.other_storage([project.id]).get(project.id, 0)  # files and other stored bytes
    storage = sum(row["storage_bytes"] for row in collections) + other
    out_days = []
    for n in range(window):
        day = first + timedelta(days=n)
        row = stored.get(day)
        entry = {
            "day": day.isoformat(),
            "requests": (row.requests if row else 0) + unflushed.get((project.id, day, "requests"), 0),
            "pushes": (row.pushes if row else 0) + unflushed.get((project.id, day, "pushes"), 0),
            "documents": row.documents if row else None,
            "storage_bytes": row.storage_bytes if row else None,
        }
        if day == today:
            entry["documents"], entry["storage_bytes"] = documents, storage
        out_days.append(entry)
    return {
        "project": project.ref,
        "from": first.isoformat(),
        "to": today.isoformat(),
        "days": out_days,
        "totals": {
            "requests": sum(d["requests"] for d in out_days),
            "pushes": sum(d["pushes"] for d in out_days),
            "documents": documents,
            "storage_bytes": storage,
            "file_bytes": other,
        },
        "collections": collections,
        "measured_at": rfc3339_ms(timezone.now()),
        # Sizes of a large project come from the periodic measurement: when it was taken.
        "sizes_measured_at": rfc3339_ms(sizes_measured_at or timezone.now()),
    }


def snapshot_sizes(chunk: int = 200) -> int:
    """Write today's documents and storage bytes for every project; returns the number of projects."""
    from basalt.projects.models import Project

    today = counters.utc_today()
    ids = list(Project.objects.order_by("id").values_list("id", flat=True))
    for start in range(0, len(ids), chunk):
        for pid, (documents, storage) in sizes.project_totals(ids[start : start + chunk]).items():
            values = {"documents": documents, "storage_bytes": storage, "updated_at": timezone.now()}
            if UsageDay.objects.filter(project_id=pid, day=today).update(**values):
                continue
            try:
                with transaction.atomic():
                    UsageDay.objects.create(project_id=pid, day=today, **values)
            except IntegrityError:
                UsageDay.objects.filter(project_id=pid, day=today).update(**values)
    return len(ids)

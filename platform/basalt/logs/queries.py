"""The request-log lines a reader asks for: time range, status class or code, route or path
prefix, user and request id, always within one project."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import QuerySet

from basalt.logs.models import RequestLog
from basalt.operations.metrics import GROUPS
from basalt.projects.models import Project

RANGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
ROUTES = sorted({name for _, name in GROUPS if name not in ("console", "health", "metrics", "manage")})


def filtered_lines(project: Project, params: Any) -> tuple[QuerySet, datetime, timedelta]:
    """The project's lines matching `params` (a QueryDict or dict), the time now and the range."""
    since = RANGES.get(params.get("range") or "24h", RANGES["24h"])
    now = datetime.now(UTC)
    rows = RequestLog.objects.filter(project=project, at__gte=now - since)
    status = (params.get("status") or "").strip()
    if status in ("2xx", "3xx", "4xx", "5xx"):
        low = int(status[0]) * 100
        rows = rows.filter(status__gte=low, status__lt=low + 100)
    elif status == "errors":
        rows = rows.filter(status__gte=400)
    elif status.isascii() and status.isdigit() and len(status) == 3:
        rows = rows.filter(status=int(status))
    route = (params.get("route") or "").strip()[:200]
    if route in ROUTES:
        rows = rows.filter(route=route)
    elif route.startswith("/"):
        rows = rows.filter(path__startswith=route)
    user = (params.get("user") or "").strip()[:32]
    if user:
        rows = rows.filter(user_id=user)
    rid = (params.get("rid") or "").strip()[:128]
    if rid:
        rows = rows.filter(request_id=rid)
    return rows, now, since

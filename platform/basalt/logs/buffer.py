"""Request lines collected off the request path: the middleware appends a tuple to an in-memory
deque (O(1), no I/O); a daemon thread writes them in bulk every few seconds and trims each
project's table to its retention and row cap. A full buffer drops the oldest lines, never blocks.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from basalt.operations.metrics import group_of

logger = logging.getLogger("basalt.logs")

DATA_API_PREFIX = "/api/v1/"
NOT_LOGGED_PREFIXES = ("/api/v1/manage/",)
MAX_SEGMENT = 64

_buffer: deque = deque(maxlen=getattr(settings, "REQUEST_LOG_BUFFER", 50_000))
_flush_lock = threading.Lock()
_started_in: int | None = None
_last_trim = 0.0


def _safe_path(path: str) -> str:
    """The path with anything key-like or oversized cut out (paths carry ids, never secrets, but be sure)."""
    parts = []
    for part in path[:600].split("/"):
        if part.startswith(("pk_", "sk_")) or len(part) > MAX_SEGMENT:
            part = "…"
        parts.append(part)
    return "/".join(parts)[:300]


def _error_code(response) -> str:
    if response.status_code < 400 or getattr(response, "streaming", False):
        return ""
    if "json" not in response.get("Content-Type", "") or len(response.content) > 8192:
        return ""
    try:
        code = json.loads(response.content).get("error", {}).get("code", "")
    except (ValueError, AttributeError):
        return ""
    return code[:40] if isinstance(code, str) else ""


class RequestLogMiddleware:
    """Time data-API requests with a known project and hand one tuple to the buffer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        log_request(request, response, started)
        return response


def log_request(request, response, started: float) -> None:
    """Buffer the request line of a data-API request whose project is known (also basalt.core.fast_path)."""
    path = request.path
    if path.startswith(DATA_API_PREFIX) and not path.startswith(NOT_LOGGED_PREFIXES):
        caller = getattr(request, "caller", None)
        if caller is not None:
            kind = "user" if caller.user_id else caller.key_kind
            _buffer.append(
                (
                    caller.project.id,
                    time.time(),
                    request.method[:8],
                    path,
                    response.status_code,
                    _error_code(response),
                    (time.perf_counter() - started) * 1000.0,
                    kind,
                    caller.user_id or "",
                    getattr(request, "request_id", ""),
                )
            )
            _ensure_flusher()


def _ensure_flusher() -> None:
    global _started_in
    seconds = getattr(settings, "REQUEST_LOG_FLUSH_SECONDS", 2)
    if seconds <= 0 or _started_in == os.getpid():
        return
    _started_in = os.getpid()  # a forked worker starts its own thread
    threading.Thread(target=_loop, args=(seconds,), name="basalt-request-log", daemon=True).start()


def _loop(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        try:
            flush()
        except Exception:  # never let the logger die; the next round retries with new lines
            logger.exception("request log flush failed")
        finally:
            close_old_connections()
            if not connection.in_atomic_block:
                connection.close()


def flush() -> int:
    """Write buffered lines (of projects that still exist) in bulk; trim now and then. Returns rows written."""
    from basalt.projects.models import Project

    with _flush_lock:
        lines = []
        while _buffer:
            try:
                lines.append(_buffer.popleft())
            except IndexError:
                break
        if not lines:
            return 0
        alive = set(Project.objects.filter(id__in={line[0] for line in lines}).values_list("id", flat=True))
        adapt_time = connection.ops.adapt_datetimefield_value
        rows = [
            (
                pid,
                adapt_time(datetime.fromtimestamp(at, UTC)),
                method,
                _safe_path(path),
                group_of(path)[:16],
                status,
                code,
                round(ms, 3),
                kind[:12],
                (user or "")[:32],
                (rid or "")[:128],
            )
            for pid, at, method, path, status, code, ms, kind, user, rid in lines
            if pid in alive
        ]
        # One transaction (one commit), PostgreSQL's COPY or one prepared INSERT per line: the ORM's
        # bulk_create prepared every field of every row in Python, a tenth of a web worker's CPU
        # under a steady load of creates (py-spy --gil).
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(_write_sql()) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(_write_sql(), rows)
        global _last_trim
        if time.monotonic() - _last_trim > getattr(settings, "REQUEST_LOG_TRIM_SECONDS", 60):
            _last_trim = time.monotonic()
            trim(alive)
        return len(rows)


_COLUMNS = (
    "project",
    "at",
    "method",
    "path",
    "route",
    "status",
    "error_code",
    "latency_ms",
    "caller_kind",
    "user_id",
    "request_id",
)
_SQL: dict[str, str] = {}


def _write_sql() -> str:
    """PostgreSQL: the COPY that takes the lines; else the INSERT of one line (model columns only)."""
    sql = _SQL.get(connection.vendor)
    if sql is None:
        from basalt.logs.models import RequestLog

        quote = connection.ops.quote_name
        columns = ", ".join(quote(RequestLog._meta.get_field(name).column) for name in _COLUMNS)
        table = quote(RequestLog._meta.db_table)
        if connection.vendor == "postgresql":
            sql = f"COPY {table} ({columns}) FROM STDIN"
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(_COLUMNS))})"  # noqa: S608
        _SQL[connection.vendor] = sql
    return sql


def retention_days(project) -> int:
    stored = (project.settings or {}).get("logs") or {}
    days = stored.get("retention_days") if isinstance(stored, dict) else None
    return days if isinstance(days, int) and 1 <= days <= 90 else settings.REQUEST_LOG_RETENTION_DAYS


def trim(project_ids=None) -> int:
    """Drop lines past each project's retention and beyond its row cap (newest kept)."""
    from basalt.logs.models import RequestLog
    from basalt.projects.models import Project

    projects = Project.objects.all() if project_ids is None else Project.objects.filter(id__in=project_ids)
    cap = settings.REQUEST_LOG_MAX_ROWS
    removed = 0
    now = datetime.now(UTC)
    for project in projects.only("id", "settings"):
        mine = RequestLog.objects.filter(project_id=project.id)
        removed += mine.filter(at__lt=now - timedelta(days=retention_days(project))).delete()[0]
        edge = list(mine.order_by("-id").values_list("id", flat=True)[cap : cap + 1])
        if edge:
            removed += mine.filter(id__lte=edge[0]).delete()[0]
    return removed


def pending() -> int:
    return len(_buffer)


def discard() -> None:
    """Forget buffered lines (tests start clean)."""
    _buffer.clear()

"""`GET /metrics`: Prometheus text (API.md §12), guarded by METRICS_TOKEN; not served when it is unset.

Request counts and latency come from a small middleware (this process's; with several server
processes set PROMETHEUS_MULTIPROC_DIR and prometheus_client aggregates them). Everything else is
read at scrape time: database pool, Celery queue depth (Redis broker), webhook deliveries and
job runs by status, realtime connections and subscriptions of this process.
"""

from __future__ import annotations

import hmac
import logging
import os
import time

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from basalt.core.errors import NotFound, Unauthenticated
from basalt.core.middleware import json_error

logger = logging.getLogger("basalt.operations.metrics")

# Route groups, by path prefix: a bounded label set (never a raw path, which would explode it).
GROUPS = (
    ("/api/v1/collections/", "documents"),
    ("/api/v1/schema/", "schema"),
    ("/api/v1/batch", "batch"),
    ("/api/v1/auth/", "auth"),
    ("/api/v1/roles", "roles"),
    ("/api/v1/realtime", "realtime"),
    ("/api/v1/manage/", "manage"),
    ("/api/v1/", "api_other"),
    ("/parse/", "parse"),
    ("/console/", "console"),
    ("/healthz", "health"),
    ("/readyz", "health"),
    ("/metrics", "metrics"),
)

REQUESTS = Counter("basalt_http_requests", "HTTP requests answered", ["group", "method", "status"])
LATENCY = Histogram(
    "basalt_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["group"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def group_of(path: str) -> str:
    for prefix, name in GROUPS:
        if path.startswith(prefix):
            return name
    return "other"


class MetricsMiddleware:
    """Count and time every request (two in-memory updates; no I/O)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        observe(request, response, started)
        return response


# Each label set's child, looked up once: `labels()` validates and locks on every call. Bounded by
# the groups, METHODS and the statuses a server answers.
_request_children: dict[tuple[str, str, int], object] = {}
_latency_children: dict[str, object] = {}


def observe(request: HttpRequest, response: HttpResponse, started: float) -> None:
    """Count and time one answered request (also basalt.documents.api.hot_routes)."""
    group = group_of(request.path)
    method = request.method if request.method in METHODS else "other"
    status = response.status_code
    counter = _request_children.get((group, method, status))
    if counter is None:
        counter = _request_children[(group, method, status)] = REQUESTS.labels(group, method, str(status))
    latency = _latency_children.get(group)
    if latency is None:
        latency = _latency_children[group] = LATENCY.labels(group)
    counter.inc()
    latency.observe(time.perf_counter() - started)


class ScrapeTimeCollector:
    """Gauges read when Prometheus scrapes; any one failing source is skipped, never the whole answer."""

    def collect(self):
        for source in (_pool, _queues, _deliveries, _job_runs, _realtime):
            try:
                yield from source()
            except Exception:
                logger.warning("metrics source %s failed", source.__name__, exc_info=True)


def _pool():
    pool = getattr(connection, "pool", None) if connection.vendor == "postgresql" else None
    if pool is None:
        return
    stats = pool.get_stats()
    gauge = GaugeMetricFamily("basalt_db_pool_connections", "Database pool connections", labels=["state"])
    gauge.add_metric(["size"], stats.get("pool_size", 0))
    gauge.add_metric(["available"], stats.get("pool_available", 0))
    gauge.add_metric(["waiting"], stats.get("requests_waiting", 0))
    yield gauge
    yield GaugeMetricFamily("basalt_db_pool_max", "Database pool maximum size", value=stats.get("pool_max", 0))


def _queues():
    from basalt.celery import app

    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    gauge = GaugeMetricFamily("basalt_task_queue_depth", "Tasks waiting in the broker queue", labels=["queue"])
    gauge.add_metric(["celery"], client.llen("celery"))
    yield gauge


def _deliveries():
    from django.db.models import Count

    from basalt.hooks.models import Delivery

    gauge = GaugeMetricFamily("basalt_webhook_deliveries", "Webhook deliveries by status", labels=["status"])
    counts = dict(Delivery.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    for status, _ in Delivery.STATUSES:
        gauge.add_metric([status], counts.get(status, 0))
    yield gauge


def _job_runs():
    from django.db.models import Count

    from basalt.hooks.models import JobRun

    gauge = GaugeMetricFamily("basalt_job_runs", "Scheduled job runs by status", labels=["status"])
    counts = dict(JobRun.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    for status in (JobRun.RUNNING, JobRun.SUCCEEDED, JobRun.FAILED):
        gauge.add_metric([status], counts.get(status, 0))
    yield gauge


def _realtime():
    from basalt.realtime import hub as hub_module

    connections = subscriptions = 0
    for hub in list(getattr(hub_module, "_hubs", {}).values()):
        for entry in hub.stats().values():
            connections += entry["connections"]
            subscriptions += sum(entry["collections"].values())
    yield GaugeMetricFamily("basalt_realtime_connections", "Realtime connections in this process", value=connections)
    yield GaugeMetricFamily(
        "basalt_realtime_subscriptions", "Realtime subscriptions in this process", value=subscriptions
    )


def _registry() -> CollectorRegistry:
    from prometheus_client import REGISTRY

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_DefaultView(REGISTRY))
    registry.register(ScrapeTimeCollector())
    return registry


class _DefaultView:
    """The process-wide default registry (request metrics, process and platform collectors) as one collector."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def metrics_view(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        return json_error(NotFound("Metrics are off: set METRICS_TOKEN to serve them."))
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return json_error(
            Unauthenticated("Send Authorization: Bearer <METRICS_TOKEN>.", headers={"WWW-Authenticate": "Bearer"})
        )
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)

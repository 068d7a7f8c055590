"""GET /metrics: Prometheus text that prometheus_client's own parser reads, only with METRICS_TOKEN."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def scrape(settings):
    settings.METRICS_TOKEN = TOKEN

    def get() -> dict:
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
        return {family.name: family for family in text_string_to_metric_families(response.content.decode())}

    return get


def samples(family, name: str, **labels) -> float:
    return sum(
        s.value for s in family.samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_requests_are_counted_by_group_and_status_with_latency(scrape, secret_client):
    before = scrape()
    prior = samples(before["basalt_http_requests"], "basalt_http_requests_total", group="schema", status="200")
    for _ in range(3):
        assert secret_client.get("/api/v1/schema/collections").status_code == 200
    secret_client.get("/api/v1/collections/nope/documents")
    families = scrape()
    requests = families["basalt_http_requests"]
    assert samples(requests, "basalt_http_requests_total", group="schema", status="200") == prior + 3
    assert samples(requests, "basalt_http_requests_total", group="documents", status="404") >= 1
    latency = families["basalt_http_request_duration_seconds"]
    assert samples(latency, "basalt_http_request_duration_seconds_count", group="schema") >= 3
    assert any(s.labels.get("le") == "+Inf" for s in latency.samples)


def test_scrape_time_gauges_are_present(scrape):
    families = scrape()
    for name in (
        "basalt_webhook_deliveries",
        "basalt_job_runs",
        "basalt_realtime_connections",
        "basalt_realtime_subscriptions",
    ):
        assert name in families, sorted(families)
    assert {s.labels["status"] for s in families["basalt_webhook_deliveries"].samples} >= {"pending", "failed"}


def test_database_pool_and_queue_on_postgresql_and_redis(scrape, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the pool gauge exists on PostgreSQL only (SQLite has no pool)")
    families = scrape()
    assert (
        "basalt_db_pool_connections" in families and samples(families["basalt_db_pool_max"], "basalt_db_pool_max") >= 1
    )


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_without_the_token_it_is_401_json(settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    response = Client().get("/metrics", **extra)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


def test_when_no_token_is_configured_metrics_are_not_served(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"

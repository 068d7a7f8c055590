"""Usage metering: request counters per project and day, sizes per collection, the §8 endpoint."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from basalt.projects import services as project_services
from basalt.usage import counters, tasks
from basalt.usage.models import UsageDay
from tests.conftest import console_client_for

pytestmark = pytest.mark.django_db

NOTES = {
    "name": "notes",
    "fields": {"title": {"type": "string"}, "body": {"type": "string"}},
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
    "default_acl": "public",
}


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def usage(project, account=None, **params):
    client = console_client_for(account or project.owner)
    return client.get(f"/api/v1/manage/projects/{project.project.ref}/usage", params)


def today_of(body: dict) -> dict:
    return body["days"][-1]


@pytest.fixture
def notes(project):
    response = key_client(project.secret).post("/api/v1/schema/collections", NOTES, format="json")
    assert response.status_code == 201, response.content
    return project


def test_data_api_requests_are_counted_for_today(notes):
    pk = key_client(notes.publishable)
    doc = pk.post("/api/v1/collections/notes/documents", {"title": "a"}, format="json").json()
    for _ in range(4):
        assert pk.get(f"/api/v1/collections/notes/documents/{doc['id']}").status_code == 200
    pk.get("/api/v1/collections/notes/documents/doesnotexist")  # a 404 is still a request served
    body = usage(notes).json()
    # The schema POST with the secret key, 1 create, 4 reads, 1 miss.
    assert today_of(body)["requests"] == 7
    assert body["totals"]["requests"] == 7
    assert len(body["days"]) == 30 and body["to"] == counters.utc_today().isoformat()
    # Reading usage flushed the counter into the table; a second read shows the same total.
    assert UsageDay.objects.get(project=notes.project).requests == 7
    assert usage(notes).json()["totals"]["requests"] == 7


def test_requests_without_a_valid_key_and_management_calls_are_not_counted(notes):
    before = usage(notes).json()["totals"]["requests"]
    assert key_client("pk_" + "x" * 40).get("/api/v1/collections/notes/documents").status_code == 401
    APIClient().get("/api/v1/collections/notes/documents")
    console_client_for(notes.owner).get(f"/api/v1/manage/projects/{notes.project.ref}/keys")
    assert usage(notes).json()["totals"]["requests"] == before


def test_counters_are_per_project(notes, make_project):
    other = make_project("Other")
    for _ in range(3):
        key_client(other.publishable).get("/api/v1/project")
    key_client(notes.publishable).get("/api/v1/project")
    assert usage(other).json()["totals"]["requests"] == 3
    assert usage(notes).json()["totals"]["requests"] == 2  # schema create + one /project


def test_document_read_budget_is_unchanged_and_still_counted(notes, django_assert_max_num_queries):
    pk = key_client(notes.publishable)
    doc = pk.post("/api/v1/collections/notes/documents", {"title": "a"}, format="json").json()
    pk.get(f"/api/v1/collections/notes/documents/{doc['id']}")  # warm the schema cache
    before = counters.pending([notes.project.id])[(notes.project.id, counters.utc_today(), "requests")]
    with django_assert_max_num_queries(2):
        response = pk.get(f"/api/v1/collections/notes/documents/{doc['id']}")
    assert response.status_code == 200
    after = counters.pending([notes.project.id])[(notes.project.id, counters.utc_today(), "requests")]
    assert after == before + 1


def test_documents_and_storage_per_collection(notes):
    sk = key_client(notes.secret)
    sk.post("/api/v1/schema/collections", {"name": "empty_one"}, format="json")
    small = usage(notes).json()
    assert {c["name"]: c["documents"] for c in small["collections"]}["notes"] == 0
    big_text = "x" * 5000
    for n in range(3):
        sk.post("/api/v1/collections/notes/documents", {"title": f"t{n}", "body": big_text}, format="json")
    body = usage(notes).json()
    by_name = {c["name"]: c for c in body["collections"]}
    assert by_name["notes"]["documents"] == 3
    assert 3 * 5000 <= by_name["notes"]["storage_bytes"] < 3 * 5200
    assert by_name["empty_one"] == {"name": "empty_one", "documents": 0, "storage_bytes": 0}
    assert body["collections"][0]["name"] == "notes"  # largest first
    assert body["totals"]["documents"] == sum(c["documents"] for c in body["collections"])
    assert today_of(body)["documents"] == body["totals"]["documents"]
    assert today_of(body)["storage_bytes"] == body["totals"]["storage_bytes"]


def test_storage_counts_bytes_not_characters(notes):
    sk = key_client(notes.secret)
    sk.post("/api/v1/collections/notes/documents", {"title": "é" * 1000}, format="json")
    stored = {c["name"]: c for c in usage(notes).json()["collections"]}["notes"]["storage_bytes"]
    # Two bytes per "é" in UTF-8 (or six as a \u escape): never the 1000 characters.
    assert stored >= 2000


def test_flush_keeps_counts_that_arrive_between_flushes(project):
    pid = project.project.id
    for _ in range(3):
        counters.record(pid)
    assert tasks.flush_counters() == 3
    counters.record(pid, amount=2)
    counters.record(pid, "pushes", 5)
    assert UsageDay.objects.get(project_id=pid).requests == 3
    assert tasks.flush_counters() == 7
    row = UsageDay.objects.get(project_id=pid)
    assert (row.requests, row.pushes) == (5, 5)
    assert counters.pending([pid]) == {}
    assert tasks.flush_counters() == 0


def test_a_flush_in_progress_is_not_doubled(project):
    pid = project.project.id
    counters.record(pid, amount=4)
    cache.add(f"usage:flush-lock:{pid}", 1, 60)  # another flusher is mid-way
    assert counters.flush([pid]) == 0
    body = usage(project).json()
    assert body["totals"]["requests"] == 4  # shown from the cache, not written twice
    assert not UsageDay.objects.filter(project_id=pid).exists()
    cache.delete(f"usage:flush-lock:{pid}")
    assert counters.flush([pid]) == 4
    assert UsageDay.objects.get(project_id=pid).requests == 4


def test_counts_land_on_the_utc_day_they_happened(project):
    pid = project.project.id
    yesterday = counters.utc_today() - timedelta(days=1)
    from datetime import UTC, datetime, time

    counters.record(pid, now=datetime.combine(yesterday, time(23, 59), tzinfo=UTC))
    counters.flush([pid])
    body = usage(project).json()
    assert body["days"][-2] == {
        "day": yesterday.isoformat(),
        "requests": 1,
        "pushes": 0,
        "documents": None,
        "storage_bytes": None,
    }
    assert today_of(body)["requests"] == 0


def test_a_cache_outage_never_fails_the_request(notes, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "incr", broken)
    monkeypatch.setattr(cache, "add", broken)
    assert key_client(notes.publishable).get("/api/v1/project").status_code == 200


def test_snapshot_task_records_sizes_for_today(notes):
    key_client(notes.secret).post("/api/v1/collections/notes/documents", {"title": "abc"}, format="json")
    assert tasks.snapshot_sizes() >= 1
    row = UsageDay.objects.get(project=notes.project, day=counters.utc_today())
    assert row.documents >= 1 and row.storage_bytes > 0
    tasks.snapshot_sizes()  # idempotent: still one row
    assert UsageDay.objects.filter(project=notes.project).count() == 1


def test_a_large_project_shows_the_periodic_measurement_with_its_time(notes, settings):
    """Past USAGE_LIVE_SIZES_LIMIT documents the report reads the stored per-collection figures
    (measured on the first view, then by the hourly snapshot) instead of reading every document."""
    settings.USAGE_LIVE_SIZES_LIMIT = 2
    sk = key_client(notes.secret)
    for n in range(3):
        sk.post("/api/v1/collections/notes/documents", {"title": f"t{n}", "body": "x" * 100}, format="json")
    first = usage(notes).json()  # nothing stored yet: measured now and kept
    notes_row = {c["name"]: c for c in first["collections"]}["notes"]
    assert notes_row["documents"] == 3 and notes_row["storage_bytes"] >= 300
    assert first["sizes_measured_at"] <= first["measured_at"]

    sk.post("/api/v1/collections/notes/documents", {"title": "later"}, format="json")
    newer = {"name": "newer", "fields": {"x": {"type": "number"}}}
    assert sk.post("/api/v1/schema/collections", newer, format="json").status_code == 201
    assert sk.post("/api/v1/collections/newer/documents", {"x": 1}, format="json").status_code == 201
    stale = usage(notes).json()
    by_name = {c["name"]: c for c in stale["collections"]}
    assert by_name["notes"]["documents"] == 3  # the stored figure, not a recount
    assert by_name["newer"]["documents"] == 1  # a collection created since is measured on its own
    from basalt.usage.models import CollectionSize

    stored_at = min(CollectionSize.objects.filter(project=notes.project).values_list("measured_at", flat=True))
    assert stale["sizes_measured_at"] == stored_at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert stale["sizes_measured_at"] < stale["measured_at"]

    tasks.snapshot_sizes()
    fresh = usage(notes).json()
    assert {c["name"]: c for c in fresh["collections"]}["notes"]["documents"] == 4
    assert fresh["sizes_measured_at"] >= stale["sizes_measured_at"]
    assert (
        fresh["totals"]["documents"]
        == 5
        == UsageDay.objects.get(project=notes.project, day=counters.utc_today()).documents
    )

    from basalt.documents import catalog

    newer_id = catalog.get_collection(notes.project, "newer").id
    catalog.delete_collection(notes.project, "newer")  # set-based SQL: its stored figure stays until pruned
    assert "newer" not in {c["name"] for c in usage(notes).json()["collections"]}
    tasks.snapshot_sizes()
    assert not CollectionSize.objects.filter(collection_id=newer_id).exists()
    assert CollectionSize.objects.filter(project=notes.project).count() == len(fresh["collections"]) - 1

    settings.USAGE_LIVE_SIZES_LIMIT = 100  # small again: counted on each view
    sk.post("/api/v1/collections/notes/documents", {"title": "live"}, format="json")
    live = usage(notes).json()
    assert {c["name"]: c for c in live["collections"]}["notes"]["documents"] == 5
    assert live["sizes_measured_at"] == live["measured_at"]


def test_the_console_says_when_a_large_project_was_measured(notes, settings, client):
    settings.USAGE_LIVE_SIZES_LIMIT = 0
    key_client(notes.secret).post("/api/v1/collections/notes/documents", {"title": "a"}, format="json")
    usage(notes)  # measured and stored
    client.force_login(notes.owner, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(f"/console/p/{notes.project.ref}/usage").content.decode()
    assert "measured every hour" in page


def test_beat_schedule_names_registered_tasks(settings):
    from basalt.celery import app

    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"usage.flush_counters", "usage.snapshot_sizes"} <= scheduled
    assert scheduled <= set(app.tasks)


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "developer", "admin"])
def test_every_member_role_may_read_usage(project, make_account, role):
    member = make_account()
    project_services.join_project(project.project, member, role)
    response = usage(project, member)
    assert response.status_code == 200 and response.json()["project"] == project.project.ref


def test_a_non_member_gets_404_and_learns_nothing(project, make_account):
    response = usage(project, make_account())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert project.project.name not in response.content.decode()


def test_unknown_project_is_404_and_anonymous_is_401(project):
    client = console_client_for(project.owner)
    assert client.get("/api/v1/manage/projects/nosuchproject/usage").status_code == 404
    anonymous = APIClient().get(f"/api/v1/manage/projects/{project.project.ref}/usage")
    assert anonymous.status_code == 401 and "error" in anonymous.json()
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert forged.get(f"/api/v1/manage/projects/{project.project.ref}/usage").status_code == 401


def test_a_project_key_is_not_a_console_credential(project):
    response = key_client(project.secret).get(f"/api/v1/manage/projects/{project.project.ref}/usage")
    assert response.status_code == 401


# "9" * 5000: past 4,300 digits int() raises ValueError, a 500.
@pytest.mark.parametrize("days", ["0", "367", "-1", "abc", "1e3", "٣", "9" * 50, "9" * 5000, "3.5", " 7"])
def test_hostile_days_are_400_validation_failed(project, days):
    response = usage(project, days=days)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_failed"
    assert "days" in response.json()["error"]["details"]


def test_days_window_and_write_methods(project):
    body = usage(project, days="7").json()
    assert len(body["days"]) == 7 and body["days"][0]["day"] == body["from"]
    client = console_client_for(project.owner)
    url = f"/api/v1/manage/projects/{project.project.ref}/usage"
    for method in ("post", "patch", "delete"):
        response = getattr(client, method)(url, json.dumps({}), content_type="application/json")
        assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"

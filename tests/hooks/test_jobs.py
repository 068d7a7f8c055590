"""Scheduled jobs: cron + timezone, webhook and purge kinds, runs recorded, run now, no overlap, resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.hooks.conftest import add_endpoint  # noqa: F401 (shared fixtures module)

pytestmark = pytest.mark.django_db(transaction=True)


def jobs_url(app) -> str:
    return app.base + "/jobs"


def make_job(app, **body) -> dict:
    response = app.console.post(jobs_url(app), {"name": "job", "cron": "0 3 * * *", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def seed(app, n: int, **fields) -> list[str]:
    return [
        app.sk.post("/api/v1/collections/posts/documents", {"title": f"d{i}", **fields}, format="json").json()["id"]
        for i in range(n)
    ]


def runs(app, job_id: str) -> list[dict]:
    return app.console.get(f"{jobs_url(app)}/{job_id}/runs").json()["results"]


def test_a_purge_runs_now_in_batches_and_is_recorded(webhook_project):
    app = webhook_project
    seed(app, 7, score=1)
    keep = seed(app, 2, score=50)
    job = make_job(app, kind="purge", config={"collection": "posts", "where": {"score": {"$lt": 10}}, "batch": 3})
    assert job["next_run_at"] and "secret" not in job
    response = app.console.post(f"{jobs_url(app)}/{job['id']}/runs")
    assert response.status_code == 202, response.content
    (run,) = runs(app, job["id"])
    assert run["status"] == "succeeded" and run["trigger"] == "manual"
    assert run["counts"] == {"deleted": 7, "batches": 3} and run["duration_ms"] is not None
    left = app.sk.get("/api/v1/collections/posts/documents").json()["results"]
    assert sorted(d["id"] for d in left) == sorted(keep)


def test_older_than_days_purges_by_age_only(webhook_project):
    from basalt.documents.models import Document

    app = webhook_project
    old = seed(app, 3)
    new = seed(app, 2)
    Document.objects.filter(id__in=old).update(created_at=timezone.now() - timedelta(days=40))
    job = make_job(app, kind="purge", config={"collection": "posts", "older_than_days": 30})
    app.console.post(f"{jobs_url(app)}/{job['id']}/runs")
    assert runs(app, job["id"])[0]["counts"]["deleted"] == 3
    assert sorted(Document.objects.filter(collection__name="posts").values_list("id", flat=True)) == sorted(new)


def test_purge_deletes_go_through_the_change_log(webhook_project, receiver):
    app = webhook_project
    add_endpoint(app, receiver.url, events=["documents.delete"])
    seed(app, 2, score=1)
    job = make_job(app, kind="purge", config={"collection": "posts", "where": {"score": 1}})
    app.console.post(f"{jobs_url(app)}/{job['id']}/runs")
    assert [r.json["type"] for r in receiver.wait_for(2)] == ["documents.delete", "documents.delete"]


def test_a_webhook_job_sends_a_signed_call(webhook_project, receiver):
    app = webhook_project
    job = make_job(app, kind="webhook", config={"url": receiver.url}, timezone="Europe/Paris")
    assert job["secret"].startswith("whsec_")
    app.console.post(f"{jobs_url(app)}/{job['id']}/runs")
    receiver.wait_for(1)
    (body,) = receiver.verified(job["secret"])
    assert body["type"] == "job.run" and body["data"]["job"] == job["id"]
    assert runs(app, job["id"])[0]["counts"]["status_code"] == 200
    receiver.status = 500
    app.console.post(f"{jobs_url(app)}/{job['id']}/runs")
    failed = runs(app, job["id"])[0]
    assert failed["status"] == "failed" and "500" in failed["error"]


def test_the_beat_starts_due_jobs_once_and_moves_to_the_next_fire(webhook_project):
    from basalt.hooks import jobs
    from basalt.hooks.models import Job

    app = webhook_project
    seed(app, 1, score=1)
    job = make_job(app, kind="purge", config={"collection": "posts", "where": {"score": 1}}, cron="0 3 * * *")
    Job.objects.filter(id=job["id"]).update(next_run_at=timezone.now() - timedelta(minutes=1))
    assert jobs.run_due() == 1
    assert jobs.run_due() == 0  # the fire was claimed: nothing runs twice
    row = Job.objects.get(id=job["id"])
    assert row.next_run_at > timezone.now() and row.next_run_at.astimezone(UTC).hour == 3
    (run,) = runs(app, job["id"])
    assert run["trigger"] == "schedule" and run["status"] == "succeeded" and run["scheduled_for"]


def test_a_second_run_never_overlaps_a_running_one(webhook_project):
    from basalt.hooks import jobs
    from basalt.hooks.models import Job, JobRun

    app = webhook_project
    job = make_job(app, kind="purge", config={"collection": "posts", "where": {"score": 1}})
    JobRun.objects.create(job_id=job["id"], status=JobRun.RUNNING)  # a run in progress elsewhere
    response = app.console.post(f"{jobs_url(app)}/{job['id']}/runs")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    Job.objects.filter(id=job["id"]).update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert jobs.run_due() == 0
    assert JobRun.objects.filter(job_id=job["id"]).count() == 1


def test_a_run_whose_worker_died_is_resumed(webhook_project):
    from basalt.hooks import jobs
    from basalt.hooks.models import JobRun

    app = webhook_project
    seed(app, 4, score=1)
    job = make_job(app, kind="purge", config={"collection": "posts", "where": {"score": 1}, "batch": 2})
    # As if a worker took the run, deleted one batch (2 documents) and died.
    lost = JobRun.objects.create(
        job_id=job["id"], status=JobRun.RUNNING, counts={"deleted": 2, "batches": 1},
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )  # fmt: skip
    jobs.run_due()
    lost.refresh_from_db()
    assert lost.status == "succeeded" and lost.counts == {"deleted": 6, "batches": 3}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "cron": "* * * * *"}, "cron"),
        ({"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "cron": "0 0 30 2 *"}, "cron"),
        ({"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "cron": "* * * * * *"}, "cron"),
        ({"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "cron": "61 * * * *"}, "cron"),
        ({"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "cron": 5}, "cron"),
        (
            {"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "timezone": "Mars/Olympus"},
            "timezone",
        ),
        (
            {"kind": "purge", "config": {"collection": "posts", "where": {"score": 1}}, "timezone": "../../etc/passwd"},
            "timezone",
        ),
        ({"kind": "purge", "config": {"collection": "posts"}}, "config.where"),
        ({"kind": "purge", "config": {"collection": "nope", "where": {"a": 1}}}, "config.collection"),
        ({"kind": "purge", "config": {"collection": "users", "older_than_days": 3}}, "config.collection"),
        ({"kind": "purge", "config": {"collection": "posts", "where": {"nope": 1}}}, "config.where"),
        ({"kind": "purge", "config": {"collection": "posts", "older_than_days": 0}}, "config.older_than_days"),
        ({"kind": "purge", "config": {"collection": "posts", "older_than_days": 3, "batch": 10**6}}, "config.batch"),
        ({"kind": "purge", "config": {"collection": "posts", "older_than_days": 3, "drop": True}}, "config.drop"),
        ({"kind": "purge", "config": "posts"}, "config"),
        ({"kind": "webhook", "config": {"url": "http://169.254.169.254/"}}, "config.url"),
        ({"kind": "export", "config": {"keep": 0}}, "config.keep"),
        ({"kind": "export", "config": {"keep": 2, "where": {}}}, "config.where"),
        ({"kind": "shell", "config": {}}, "kind"),
        ({"name": "a\x00b", "kind": "purge", "config": {"collection": "posts", "older_than_days": 3}}, "name"),
        # Looked up in a dict: unhashable, a 500.
        ({"kind": {"purge": 1}, "config": {}}, "kind"),
        ({"kind": ["purge"], "config": {}}, "kind"),
    ],
)
def test_bad_jobs_are_400_with_the_field_named(webhook_project, body, field):
    app = webhook_project
    response = app.console.post(jobs_url(app), {"name": "bad", "cron": "0 3 * * *", **body}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["details"]


def test_the_minimum_interval_is_a_setting(webhook_project, settings):
    app = webhook_project
    settings.JOBS_MIN_INTERVAL_SECONDS = 60
    job = make_job(app, kind="webhook", config={"url": "http://127.0.0.1:9/"}, cron="* * * * *")
    assert job["cron"] == "* * * * *"


def test_timezones_place_the_fire_in_local_time(webhook_project):
    from zoneinfo import ZoneInfo

    app = webhook_project
    job = make_job(app, kind="webhook", config={"url": "http://127.0.0.1:9/"}, cron="30 2 * * *", timezone="Asia/Tokyo")
    fire = datetime.fromisoformat(job["next_run_at"].replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (fire.hour, fire.minute) == (2, 30)
    changed = app.console.patch(f"{jobs_url(app)}/{job['id']}", {"kind": "purge"}, format="json")
    assert changed.status_code == 400 and "kind" in changed.json()["error"]["details"]
    off = app.console.patch(f"{jobs_url(app)}/{job['id']}", {"enabled": False}, format="json").json()
    assert off["enabled"] is False and off["next_run_at"] is None


def test_viewers_read_jobs_but_cannot_change_or_run_them(webhook_project, make_account):
    from basalt.projects import services
    from tests.conftest import console_client_for

    app = webhook_project
    job = make_job(app, kind="purge", config={"collection": "posts", "where": {"score": 1}})
    viewer = make_account()
    services.join_project(app.project, viewer, "viewer")
    client = console_client_for(viewer)
    assert client.get(jobs_url(app)).status_code == 200
    assert client.get(f"{jobs_url(app)}/{job['id']}/runs").status_code == 200
    assert client.post(f"{jobs_url(app)}/{job['id']}/runs").status_code == 403
    assert client.delete(f"{jobs_url(app)}/{job['id']}").status_code == 403
    stranger = console_client_for(make_account())
    assert stranger.get(f"{jobs_url(app)}/{job['id']}").status_code == 404

"""Orphans removed by the scheduled sweep (never a referenced file); usage counts stored bytes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from basalt.files.models import File
from tests.files.conftest import upload
from tests.files.test_upload import stored_objects

pytestmark = pytest.mark.django_db


def age(file_id: str, hours: int) -> None:
    File.objects.filter(pk=file_id).update(created_at=timezone.now() - timedelta(hours=hours))


def test_unreferenced_old_files_are_swept_and_referenced_ones_kept(secret_client, project, file_storage):
    from basalt.files.tasks import sweep_orphans

    secret_client.post(
        "/api/v1/schema/collections",
        {"name": "posts", "fields": {"cover": {"type": "file"}, "other": {"type": "file"}}},
        format="json",
    )
    kept = upload(secret_client, b"kept").json()["id"]
    kept_too = upload(secret_client, b"kept too").json()["id"]
    orphan = upload(secret_client, b"orphan").json()["id"]
    young = upload(secret_client, b"young").json()["id"]
    for file_id in (kept, kept_too, orphan):
        age(file_id, 25)
    secret_client.post("/api/v1/collections/posts/documents", {"cover": kept}, format="json")
    secret_client.post("/api/v1/collections/posts/documents", {"other": kept_too}, format="json")
    assert sweep_orphans.delay().get() == 1
    assert set(File.objects.values_list("id", flat=True)) == {kept, kept_too, young}
    assert not any(orphan in key for key in stored_objects(file_storage, project.project.pk))
    assert sweep_orphans.delay().get() == 0  # idempotent


def test_orphan_window_zero_never_sweeps(secret_client, project):
    from basalt.files.tasks import sweep_orphans
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"orphan_window_hours": 0}})
    file_id = upload(secret_client, b"forever").json()["id"]
    age(file_id, 24 * 400)
    assert sweep_orphans.delay().get() == 0
    assert File.objects.filter(pk=file_id).exists()


def test_usage_counts_file_bytes(secret_client, project, console):
    from basalt.usage.services import project_usage

    upload(secret_client, b"x" * 1000)
    upload(secret_client, b"y" * 500)
    body = project_usage(project.owner, project.project.ref)
    assert body["totals"]["file_bytes"] == 1500
    assert body["totals"]["storage_bytes"] >= 1500
    assert body["days"][-1]["storage_bytes"] == body["totals"]["storage_bytes"]

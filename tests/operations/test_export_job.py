"""The `export` scheduled-job kind: an archive per run in storage, the last N kept, runs recorded."""

from __future__ import annotations

import pytest

from tests.conftest import body_of
from tests.operations.conftest import seed_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_jobs_keep_the_last_n_archives_and_they_import(make_project, archive_storage):
    keys = make_project("Nightly")
    seeded = seed_project(keys, n_posts=5)
    answer = seeded.console.post(
        f"{seeded.base}/jobs", {"name": "nightly", "kind": "export", "cron": "0 3 * * *", "config": {"keep": 2}},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.content
    job = answer.json()
    assert job["config"] == {"keep": 2}
    for _ in range(3):
        run = seeded.console.post(f"{seeded.base}/jobs/{job['id']}/runs")
        assert run.status_code == 202, run.content
    runs = seeded.console.get(f"{seeded.base}/jobs/{job['id']}/runs").json()["results"]
    assert [r["status"] for r in runs] == ["succeeded"] * 3, runs
    assert all(r["counts"]["documents"] >= 5 and r["counts"]["size"] > 0 for r in runs)
    exports = seeded.console.get(f"{seeded.base}/exports").json()["results"]
    assert len(exports) == 2 and all(e["job"] == job["id"] for e in exports)
    kept = {r["counts"]["transfer"] for r in runs[:2]} if runs[0]["started_at"] >= runs[-1]["started_at"] else None
    if kept is not None:
        assert {e["id"] for e in exports} == kept
    # The pruned archive's bytes are gone from storage; the kept ones download.
    files = (
        [p for p in (archive_storage.root / "exports").rglob("*.tar.gz")] if hasattr(archive_storage, "root") else None
    )
    if files is not None:
        assert len(files) == 2
    download = seeded.console.get(exports[0]["download_url"])
    assert download.status_code == 200 and body_of(download)[:2] == b"\x1f\x8b"


def test_a_job_config_is_checked(make_project):
    keys = make_project("Bad")
    seeded = seed_project(keys, n_posts=5)
    answer = seeded.console.post(
        f"{seeded.base}/jobs", {"name": "x", "kind": "export", "cron": "0 3 * * *", "config": {"keep": 10**6}},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 400
    assert "config.keep" in answer.json()["error"]["details"]


def test_deleting_a_project_removes_its_archives(make_project, archive_storage):
    keys = make_project("Doomed")
    seeded = seed_project(keys, n_posts=5)
    seeded.console.post(f"{seeded.base}/exports")
    folder = archive_storage.root / "exports" / f"p{keys.project.pk}"
    assert len(list(folder.glob("*.tar.gz"))) == 1
    assert seeded.console.delete(seeded.base, {"confirm": "Doomed"}, format="json").status_code in (200, 204)
    assert not list(folder.glob("*.tar.gz"))

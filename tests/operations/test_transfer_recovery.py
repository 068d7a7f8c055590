"""Exports, imports and clones whose worker died are run again from the start (transfer_recovery)."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import body_of
from tests.operations.conftest import key_client, seed_project

pytestmark = pytest.mark.django_db(transaction=True)


def _status(seeded, path: str) -> dict:
    return seeded.console.get(f"{seeded.base}/{path}").json()


def _crashed(transfer_id: str) -> None:
    """What a worker leaves when it dies mid-transfer: the row claimed, nobody holding its lock."""
    from django.utils import timezone

    from basalt.operations.models import Transfer

    Transfer.objects.filter(id=transfer_id).update(status=Transfer.RUNNING, started_at=timezone.now())


@pytest.fixture
def no_worker(monkeypatch):
    """Transfers are queued but no worker takes them (their task is lost with it)."""
    from basalt.operations import transfers

    monkeypatch.setattr(transfers, "enqueue_now", lambda transfer_id: None)
    return lambda: monkeypatch.undo()


def _queued_import(make_project, n_posts: int):
    """An import of another project's archive, queued through the API (no worker takes it): (target, base, id)."""
    import io

    from basalt.operations import exporting

    source = seed_project(make_project("Source"), n_posts=n_posts)
    sink = io.BytesIO()
    exporting.export_project(source.keys.project, sink)
    target = make_project("Target", owner=source.keys.owner)
    base = f"/api/v1/manage/projects/{target.project.ref}"
    answer = source.console.generic("POST", f"{base}/imports", sink.getvalue(), content_type="application/gzip")
    assert answer.status_code == 202, answer.content
    return target, source.console, base, answer.json()["id"]


def test_an_export_whose_worker_died_is_written_again(make_project, archive_storage, no_worker):
    from basalt.operations import transfer_recovery, transfers
    from basalt.operations.models import Transfer

    seeded = seed_project(make_project("Lost export"), n_posts=4)
    export = seeded.console.post(f"{seeded.base}/exports").json()
    _crashed(export["id"])
    transfer = Transfer.objects.select_related("project").get(id=export["id"])
    partial = archive_storage.writer(transfers.export_key(transfer.project, transfer.id))
    partial.write(b"\x1f\x8b half an archive")
    partial.commit()
    assert _status(seeded, f"exports/{export['id']}")["status"] == "running"

    no_worker()  # a worker is back
    assert transfer_recovery.recover() == 1
    done = _status(seeded, f"exports/{export['id']}")
    assert done["status"] == "succeeded", done
    assert done["progress"]["counts"]["documents"] >= 4
    archive = body_of(seeded.console.get(done["download_url"]))
    assert archive[:2] == b"\x1f\x8b" and b"half an archive" not in archive
    assert Transfer.objects.get(id=export["id"]).attempts == 1


def test_an_import_whose_worker_died_runs_again_into_the_still_empty_project(make_project, no_worker):
    from basalt.operations import transfer_recovery

    target, console, base, transfer_id = _queued_import(make_project, 4)
    _crashed(transfer_id)

    no_worker()
    assert transfer_recovery.recover() == 1
    status = console.get(f"{base}/imports/{transfer_id}").json()
    assert status["status"] == "succeeded", status
    posts = key_client(target.secret).get("/api/v1/collections/posts/documents", {"count": "true", "limit": 0})
    assert posts.json()["count"] == 4


def test_a_running_transfer_whose_worker_is_alive_is_left_alone(make_project, no_worker):
    from basalt.operations import transfer_recovery

    seeded = seed_project(make_project("Busy"), n_posts=2)
    export = seeded.console.post(f"{seeded.base}/exports").json()
    _crashed(export["id"])
    holding, release = threading.Event(), threading.Event()

    def worker():  # another process's runner, as far as the lock can tell (its own connection / open file)
        from django.db import connection

        try:
            with transfer_recovery.liveness(export["id"]) as mine:
                assert mine
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert holding.wait(30)
        no_worker()
        assert transfer_recovery.recover() == 0
        assert _status(seeded, f"exports/{export['id']}")["status"] == "running"
    finally:
        release.set()
        thread.join(30)


def test_a_transfer_lost_again_and_again_ends_failed_and_its_upload_is_removed(make_project, no_worker):
    from basalt.files.storage import get_storage
    from basalt.operations import transfer_recovery
    from basalt.operations.models import Transfer

    _, console, base, transfer_id = _queued_import(make_project, 2)
    upload = Transfer.objects.get(id=transfer_id).archive_key
    for attempt in range(transfer_recovery.MAX_ATTEMPTS):
        _crashed(transfer_id)
        assert transfer_recovery.recover() == 1  # no worker: queued again, never run
        row = Transfer.objects.get(id=transfer_id)
        if attempt + 1 < transfer_recovery.MAX_ATTEMPTS:
            assert (row.status, row.attempts) == (Transfer.QUEUED, attempt + 1)
    status = console.get(f"{base}/imports/{transfer_id}").json()
    assert status["status"] == "failed" and status["error"]["code"] == "interrupted"
    assert upload and get_storage().size(upload) is None


def test_a_queued_transfer_whose_task_was_lost_is_sent_again(make_project, no_worker):
    from datetime import timedelta

    from django.utils import timezone

    from basalt.operations import transfer_recovery
    from basalt.operations.models import Transfer

    seeded = seed_project(make_project("Forgotten"), n_posts=2)
    export = seeded.console.post(f"{seeded.base}/exports").json()
    no_worker()
    assert transfer_recovery.recover() == 0
    assert _status(seeded, f"exports/{export['id']}")["status"] == "queued"  # not yet past the lease
    Transfer.objects.filter(id=export["id"]).update(queued_at=timezone.now() - timedelta(minutes=10))
    transfer_recovery.recover()
    assert _status(seeded, f"exports/{export['id']}")["status"] == "succeeded"

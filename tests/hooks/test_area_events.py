"""`files.create` and `push.finished` webhooks: announced by their areas after commit, signed like every event."""

from __future__ import annotations

import pytest

from tests.hooks.conftest import add_endpoint

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def local_files(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        },
    }


def test_a_stored_file_sends_files_create(webhook_project, receiver):
    app = webhook_project
    endpoint = add_endpoint(app, receiver.url, events=["files.create"])
    answer = app.sk.generic("POST", "/api/v1/files?name=a.txt", b"hello webhooks", content_type="text/plain")
    assert answer.status_code == 201, answer.content
    receiver.wait_for(1)
    (body,) = receiver.verified(endpoint["secret"])
    assert body["type"] == "files.create"
    assert body["data"]["project"] == app.project.ref
    assert body["data"]["file"]["id"] == answer.json()["id"]
    assert body["data"]["file"]["size"] == len(b"hello webhooks") and "url" not in body["data"]["file"]
    # A document write is not what this endpoint asked for.
    app.sk.post("/api/v1/collections/posts/documents", {"title": "x"}, format="json")
    assert len(receiver.received) == 1


def test_a_finished_push_sends_push_finished(webhook_project, receiver):
    app = webhook_project
    endpoint = add_endpoint(app, receiver.url, events=["push.finished"])
    # No device matches: the push has nothing to send and finishes at once, with its counts.
    answer = app.sk.post(
        "/api/v1/push", {"audience": {"channels": ["nobody"]}, "notification": {"title": "hi"}}, format="json"
    )
    assert answer.status_code in (201, 202), answer.content
    receiver.wait_for(1)
    (body,) = receiver.verified(endpoint["secret"])
    assert body["type"] == "push.finished"
    assert body["data"]["push"]["id"] == answer.json()["id"]
    assert body["data"]["push"]["status"] in ("done", "failed") and "counts" in body["data"]["push"]


def test_the_new_events_are_offered_and_unknown_ones_refused(webhook_project, receiver):
    app = webhook_project
    response = app.console.post(
        app.base + "/webhooks", {"url": receiver.url, "events": ["files.created"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"]["events"] == ["Unknown event 'files.created'."]
    both = add_endpoint(app, receiver.url, events=["files.create", "push.finished"])
    assert both["events"] == ["files.create", "push.finished"]

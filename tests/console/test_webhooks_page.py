"""Console webhooks pages: add an endpoint (secret shown once), see deliveries, ping, redeliver, toggle."""

from __future__ import annotations

import re

import pytest

from tests.hooks.conftest import start_receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_receiver(settings):
    from basalt.celery import app

    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    previous, app.conf.task_always_eager = app.conf.task_always_eager, True
    state, server = start_receiver()
    yield state
    app.conf.task_always_eager = previous
    server.shutdown()
    server.server_close()


def test_owner_adds_an_endpoint_pings_it_and_redelivers(owner_client, project, loopback_receiver):
    ref = project.project.ref
    form = {"url": loopback_receiver.url, "events": ["documents.create", "users.create"], "collections": ""}
    response = owner_client.post(f"/console/p/{ref}/webhooks/new", form)
    assert response.status_code == 201
    secret = re.search(rb'id="new-secret-value">(whsec_[^<]+)<', response.content).group(1).decode()
    page = owner_client.get(f"/console/p/{ref}/webhooks")
    assert secret.encode() not in page.content and loopback_receiver.url.encode() in page.content
    endpoint_id = re.search(rb"/webhooks/(ep_[a-z0-9]+)", page.content).group(1).decode()

    assert owner_client.post(f"/console/p/{ref}/webhooks/{endpoint_id}/ping").status_code == 302
    (got,) = loopback_receiver.wait_for(1)
    assert loopback_receiver.verified(secret)[0]["type"] == "webhook.ping"
    detail = owner_client.get(f"/console/p/{ref}/webhooks/{endpoint_id}")
    assert got.headers["webhook-id"].encode() in detail.content and b"succeeded" in detail.content

    delivery = owner_client.get(f"/console/p/{ref}/deliveries/{got.headers['webhook-id']}")
    assert delivery.status_code == 200 and b"webhook.ping" in delivery.content
    assert owner_client.post(f"/console/p/{ref}/deliveries/{got.headers['webhook-id']}/redeliver").status_code == 302
    assert loopback_receiver.wait_for(2)[1].headers["webhook-id"] == got.headers["webhook-id"]

    owner_client.post(f"/console/p/{ref}/webhooks/{endpoint_id}/toggle", {"enabled": "false"})
    assert b"Re-enable" in owner_client.get(f"/console/p/{ref}/webhooks/{endpoint_id}").content


def test_a_bad_url_is_shown_on_the_form(owner_client, project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    ref = project.project.ref
    response = owner_client.post(
        f"/console/p/{ref}/webhooks/new", {"url": "http://169.254.169.254/", "events": ["documents.create"]}
    )
    assert response.status_code == 400 and b"metadata" in response.content


def test_a_viewer_sees_endpoints_but_no_form_and_cannot_add(member_client, project):
    viewer = member_client("viewer")
    ref = project.project.ref
    page = viewer.get(f"/console/p/{ref}/webhooks")
    assert page.status_code == 200 and b"Add endpoint" not in page.content
    response = viewer.post(
        f"/console/p/{ref}/webhooks/new", {"url": "https://example.com/", "events": ["documents.create"]}
    )
    assert response.status_code == 403


def test_owner_adds_a_purge_job_and_runs_it_now(owner_client, project, secret_client, loopback_receiver):
    ref = project.project.ref
    body = {"name": "notes", "fields": {"n": {"type": "number"}}}
    assert secret_client.post("/api/v1/schema/collections", body, format="json").status_code == 201
    for n in (1, 2, 30):
        secret_client.post("/api/v1/collections/notes/documents", {"n": n}, format="json")
    form = {
        "name": "tidy",
        "kind": "purge",
        "cron": "0 3 * * *",
        "timezone": "Europe/Paris",
        "config": '{"collection": "notes", "where": {"n": {"$lt": 10}}}',
    }
    assert owner_client.post(f"/console/p/{ref}/jobs/new", form).status_code == 201
    page = owner_client.get(f"/console/p/{ref}/jobs")
    job_id = re.search(rb"job-(job_[a-z0-9]+)", page.content).group(1).decode()
    assert owner_client.post(f"/console/p/{ref}/jobs/{job_id}/run").status_code == 302
    page = owner_client.get(f"/console/p/{ref}/jobs")
    assert b"succeeded" in page.content and b"&#x27;deleted&#x27;: 2" in page.content
    bad = owner_client.post(f"/console/p/{ref}/jobs/new", {**form, "cron": "* * * * *"})
    assert bad.status_code == 400 and b"at most once every" in bad.content

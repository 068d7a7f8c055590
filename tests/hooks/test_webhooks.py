"""Webhooks end to end in one process: commits become signed deliveries a real receiver verifies."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.hooks.conftest import add_endpoint

pytestmark = pytest.mark.django_db(transaction=True)


def deliveries(app, endpoint_id: str, **params) -> list[dict]:
    response = app.console.get(f"{app.base}/webhooks/{endpoint_id}/deliveries", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_create_update_delete_arrive_signed_with_the_secret_shown_once(webhook_project, receiver):
    app = webhook_project
    endpoint = add_endpoint(app, receiver.url)
    assert endpoint["secret"].startswith("whsec_")
    listed = app.console.get(f"{app.base}/webhooks/{endpoint['id']}").json()
    assert "secret" not in listed and endpoint["secret"] not in str(app.console.get(app.base + "/webhooks").content)

    doc = app.sk.post("/api/v1/collections/posts/documents", {"title": "hello"}, format="json").json()
    app.sk.patch(f"/api/v1/collections/posts/documents/{doc['id']}", {"score": 3}, format="json")
    app.sk.delete(f"/api/v1/collections/posts/documents/{doc['id']}")

    receiver.wait_for(3)
    bodies = receiver.verified(endpoint["secret"])  # standardwebhooks raises on a bad signature
    assert [b["type"] for b in bodies] == ["documents.create", "documents.update", "documents.delete"]
    assert bodies[0]["data"]["document"]["title"] == "hello"
    assert bodies[1]["data"]["document"]["score"] == 3 and bodies[1]["data"]["previous"]["score"] == 0
    assert bodies[2]["data"]["id"] == doc["id"] and "document" not in bodies[2]["data"]
    assert all(b["data"]["project"] == app.project.ref for b in bodies)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == 3
    log = deliveries(app, endpoint["id"])
    assert {d["id"] for d in log} == set(ids)
    assert all(d["status"] == "succeeded" and d["last_attempt"]["status_code"] == 200 for d in log)


def test_a_wrong_secret_fails_verification(webhook_project, receiver):
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    app = webhook_project
    add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "x"}, format="json")
    (got,) = receiver.wait_for(1)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(got.body, got.headers)


def test_a_rolled_back_write_sends_nothing(webhook_project, receiver):
    from basalt.core.caller import Caller
    from basalt.documents import services
    from basalt.hooks.models import Delivery

    app = webhook_project
    add_endpoint(app, receiver.url)
    caller = Caller(project=app.project, key_kind="secret", key_id=None)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.create_document(caller, "posts", {"title": "never"})
        raise RuntimeError("roll back")
    app.sk.post("/api/v1/collections/posts/documents", {"title": "kept"}, format="json")
    (got,) = receiver.wait_for(1)
    assert got.json["data"]["document"]["title"] == "kept"
    assert Delivery.objects.count() == 1


def test_filters_by_event_collection_and_where(webhook_project, receiver):
    app = webhook_project
    other = {"name": "notes", "fields": {"n": {"type": "number"}}, "permissions": {}, "default_acl": "public"}
    assert app.sk.post("/api/v1/schema/collections", other, format="json").status_code == 201
    add_endpoint(app, receiver.url, events=["documents.create"], collections=["posts"], where={"score": {"$gte": 10}})
    app.sk.post("/api/v1/collections/posts/documents", {"title": "low", "score": 1}, format="json")
    app.sk.post("/api/v1/collections/notes/documents", {"n": 50}, format="json")
    high = app.sk.post("/api/v1/collections/posts/documents", {"title": "high", "score": 20}, format="json").json()
    app.sk.patch(f"/api/v1/collections/posts/documents/{high['id']}", {"score": 30}, format="json")  # not subscribed
    app.sk.post("/api/v1/collections/posts/documents", {"title": "last", "score": 11}, format="json")
    got = receiver.wait_for(2)
    assert [r.json["data"]["document"]["title"] for r in got] == ["high", "last"]


def test_user_signup_and_deletion_are_events(webhook_project, receiver):
    from rest_framework.test import APIClient

    app = webhook_project
    endpoint = add_endpoint(app, receiver.url, events=["users.create", "users.delete"])
    pk = APIClient()
    pk.credentials(HTTP_X_API_KEY=app.publishable)
    user = pk.post("/api/v1/auth/signup", {"email": "hook@example.com", "password": "a long passphrase"}, format="json")
    assert user.status_code == 201, user.content
    user_id = user.json()["user"]["id"]
    assert app.sk.delete(f"/api/v1/auth/users/{user_id}").status_code == 204
    got = receiver.wait_for(2)
    bodies = receiver.verified(endpoint["secret"])
    assert [b["type"] for b in bodies] == ["users.create", "users.delete"]
    assert all(b["data"]["id"] == user_id for b in bodies)
    assert "password" not in got[0].body.decode()


def test_failure_is_retried_later_then_redelivered_with_the_same_webhook_id(webhook_project, receiver):
    from basalt.hooks.models import Delivery

    app = webhook_project
    receiver.status, receiver.body = 503, b"busy " * 2000
    endpoint = add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    (first,) = receiver.wait_for(1)
    (row,) = deliveries(app, endpoint["id"])
    assert row["status"] == "pending" and row["attempts"] == 1 and row["next_attempt_at"]
    assert row["last_attempt"]["status_code"] == 503 and len(row["last_attempt"]["response"]) == 2048
    assert Delivery.objects.get().next_attempt_at > Delivery.objects.get().created_at
    assert app.console.get(f"{app.base}/webhooks/{endpoint['id']}").json()["failing_since"]

    receiver.status, receiver.body = 200, b"ok"
    response = app.console.post(f"{app.base}/deliveries/{row['id']}/redeliver")
    assert response.status_code == 202, response.content
    (_, second) = receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"] == row["id"]
    detail = app.console.get(f"{app.base}/deliveries/{row['id']}").json()
    assert detail["status"] == "succeeded" and [a["status_code"] for a in detail["attempt_log"]] == [503, 200]
    assert detail["payload"]["type"] == "documents.create"
    assert app.console.get(f"{app.base}/webhooks/{endpoint['id']}").json()["failing_since"] is None


def test_backoff_grows_exponentially_with_jitter(settings):
    from basalt.hooks.dispatch import backoff_seconds

    settings.WEBHOOK_RETRY_BASE_SECONDS = 5
    for attempt in range(1, 8):
        raw = 5 * 2 ** (attempt - 1)
        samples = {backoff_seconds(attempt) for _ in range(20)}
        assert all(raw / 2 <= s <= raw for s in samples) and len(samples) > 1
    assert backoff_seconds(40) <= 3600


def test_a_delivery_past_its_retry_window_fails(webhook_project, receiver, settings):
    app = webhook_project
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 0
    receiver.status = 500
    endpoint = add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    receiver.wait_for(1)
    (row,) = deliveries(app, endpoint["id"])
    assert row["status"] == "failed" and row["finished_at"]


def test_failing_for_the_disable_period_disables_with_a_notice_and_reenabling_sends(
    webhook_project, receiver, settings
):
    from django.test import Client

    from basalt.hooks.models import Delivery

    app = webhook_project
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 0
    receiver.status = 500
    endpoint = add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    receiver.wait_for(1)
    state = app.console.get(f"{app.base}/webhooks/{endpoint['id']}").json()
    assert state["enabled"] is False and "24 hours" in state["disabled_reason"]
    browser = Client()
    browser.force_login(app.owner, backend="django.contrib.auth.backends.ModelBackend")
    page = browser.get(f"/console/p/{app.project.ref}/webhooks")
    assert page.status_code == 200 and b"Disabled automatically" in page.content

    app.sk.post("/api/v1/collections/posts/documents", {"title": "while off"}, format="json")
    assert Delivery.objects.count() == 1  # a disabled endpoint gets nothing new

    receiver.status = 200
    response = app.console.patch(f"{app.base}/webhooks/{endpoint['id']}", {"enabled": True}, format="json")
    assert response.json()["enabled"] is True and response.json()["disabled_reason"] is None
    got = receiver.wait_for(2)
    assert got[1].headers["webhook-id"] == got[0].headers["webhook-id"]  # the waiting one, sent again
    assert deliveries(app, endpoint["id"])[0]["status"] == "succeeded"


def test_ping_is_a_signed_test_event(webhook_project, receiver):
    app = webhook_project
    endpoint = add_endpoint(app, receiver.url)
    response = app.console.post(f"{app.base}/webhooks/{endpoint['id']}/ping")
    assert response.status_code == 202, response.content
    receiver.wait_for(1)
    (body,) = receiver.verified(endpoint["secret"])
    assert body["type"] == "webhook.ping" and body["data"]["endpoint"] == endpoint["id"]


def test_huge_responses_are_read_at_most_64_kib(webhook_project, receiver):
    app = webhook_project
    receiver.mode = "huge"
    endpoint = add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    receiver.wait_for(1)
    (row,) = deliveries(app, endpoint["id"])
    assert row["last_attempt"]["status_code"] == 200 and len(row["last_attempt"]["response"]) == 2048
    # The sender hung up long before the 64 MiB body ended (socket buffers hold a few MiB at most).
    assert receiver.bytes_sent < 32 * 1024 * 1024


def test_a_slow_loris_receiver_is_cut_off(webhook_project, receiver, settings):
    app = webhook_project
    settings.WEBHOOK_TIMEOUT_SECONDS = 1.0
    receiver.mode = "drip"
    endpoint = add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    (row,) = deliveries(app, endpoint["id"])
    assert row["last_attempt"]["status_code"] == 200
    assert receiver.bytes_sent < 100000


def test_a_redirect_is_never_followed(webhook_project, receiver, internal):
    app = webhook_project
    receiver.mode, receiver.redirect_to = "redirect", internal.url
    endpoint = add_endpoint(app, receiver.url)
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    receiver.wait_for(1)
    (row,) = deliveries(app, endpoint["id"])
    assert row["status"] == "pending" and row["last_attempt"]["status_code"] == 302
    assert "redirect" in row["last_attempt"]["error"]
    assert internal.received == []


def test_private_targets_are_refused_when_not_allowed(webhook_project, internal, settings):
    app = webhook_project
    endpoint = add_endpoint(app, internal.url.replace("127.0.0.1", "localhost"))
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    for url in (internal.url, "http://2130706433:1/", "http://[::ffff:127.0.0.1]:1/", "http://169.254.169.254/"):
        response = app.console.post(app.base + "/webhooks", {"url": url, "events": ["documents.create"]}, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed", url
    # An endpoint made while allowed: every send resolves and checks again, so nothing connects.
    app.sk.post("/api/v1/collections/posts/documents", {"title": "a"}, format="json")
    (row,) = deliveries(app, endpoint["id"])
    assert row["status"] == "pending" and "loopback" in row["last_attempt"]["error"]
    assert internal.received == []

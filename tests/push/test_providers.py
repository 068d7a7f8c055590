"""The real provider libraries against loopback stand-ins: what arrives, what is counted, what is deactivated."""

from __future__ import annotations

import json

import pytest

from tests.push.conftest import apns_token, key_client, register

pytestmark = pytest.mark.django_db(transaction=True)


def _push(project, body: dict):
    response = key_client(project.secret).post("/api/v1/push", body, format="json")
    assert response.status_code == 202, response.content
    return key_client(project.secret).get(f"/api/v1/push/{response.json()['id']}").json()


def test_fcm_delivers_through_firebase_admin_and_deactivates_unregistered_tokens(project, fcm):
    from firebase_admin import messaging

    device = key_client(project.publishable)
    english = register(device, "fcm", "a" * 30 + "english", locale="en-US")
    french = register(device, "fcm", "b" * 30 + "french", locale="fr-CA")
    gone = register(device, "fcm", "c" * 30 + "unregistered")
    push = _push(
        project,
        {
            "audience": {},
            "notification": {"title": "Hello", "body": "World"},
            "localized": {"fr": {"title": "Bonjour"}},
            "data": {"kind": "greeting", "n": 3},
            "collapse_key": "greet",
        },
    )
    assert push["status"] == "done", push
    counts = push["counts"]
    assert (counts["targeted"], counts["sent"], counts["invalid_tokens"], counts["pending"]) == (3, 2, 1, 0)
    assert counts["providers"]["fcm"]["sent"] == 2
    by_token = {token: messages[0] for token, messages in fcm.received.items()}
    assert by_token[english["token"]]["notification"] == {"title": "Hello", "body": "World"}
    assert by_token[french["token"]]["notification"] == {"title": "Bonjour", "body": "World"}
    assert by_token[french["token"]]["data"] == {"kind": "greeting", "n": "3"}
    assert by_token[french["token"]]["android"]["collapse_key"] == "greet"
    assert gone["token"] not in by_token
    secret = key_client(project.secret)
    assert secret.get(f"/api/v1/installations/{gone['id']}").json()["active"] is False
    assert secret.get(f"/api/v1/installations/{english['id']}").json()["active"] is True
    # The seam this relies on: the library still sends to the service's `_fcm_url`.
    from basalt.push import credentials
    from basalt.push.providers.fcm import messaging_app

    project.project.refresh_from_db()
    app = messaging_app(credentials.load(project.project, "fcm").service_account)
    assert messaging._get_messaging_service(app)._fcm_url.startswith(fcm.base)
    # An inactive installation is no longer targeted.
    again = _push(project, {"audience": {}, "notification": {"title": "Again"}})
    assert again["counts"]["targeted"] == 2


def test_refused_fcm_credentials_stop_the_push_without_a_retry_storm(project, fcm):
    fcm.refuse_grant = True
    device = key_client(project.publishable)
    for n in range(5):
        register(device, "fcm", f"{n}" * 30)
    push = _push(project, {"audience": {}, "notification": {"title": "x"}})
    assert push["status"] == "failed" and "fcm" in push["error"] and "credentials" in push["error"]
    assert push["counts"]["failed"] == 5 and push["counts"]["pending"] == 0
    # One batch tried (each of its concurrent sends asks for a token once), then nothing more.
    assert fcm.requests == 0 and 1 <= fcm.token_requests <= 5
    before = fcm.token_requests
    from basalt.push import tasks

    tasks.tick()
    assert fcm.token_requests == before


def test_fcm_429_is_retried_after_retry_after(project, fcm, monkeypatch):
    from datetime import timedelta

    from basalt.push import clock, tasks

    device = key_client(project.publishable)
    token = "d" * 30
    register(device, "fcm", token)
    fcm.plan[token] = ["429"]
    fcm.retry_after = "120"
    push = _push(project, {"audience": {}, "notification": {"title": "x"}})
    assert push["status"] == "sending" and push["counts"]["pending"] == 1
    tasks.tick()
    assert fcm.received == {}
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(seconds=119))
    tasks.tick()
    assert fcm.received == {}
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(seconds=121))
    tasks.tick()
    done = key_client(project.secret).get(f"/api/v1/push/{push['id']}").json()
    assert done["status"] == "done" and done["counts"]["sent"] == 1
    assert len(fcm.received[token]) == 1


def test_apns_delivers_over_http2_with_a_valid_provider_token(project, apns):
    device = key_client(project.publishable)
    tokens = [apns_token(n) for n in range(1, 51)]
    for token in tokens:
        register(device, "apns", token, badge=2)
    apns.answers[tokens[0]] = (410, "Unregistered")
    apns.answers[tokens[1]] = (400, "BadDeviceToken")
    push = _push(
        project,
        {"audience": {}, "notification": {"title": "Hi", "body": "there"}, "badge": "increment", "data": {"k": 1}},
    )
    counts = push["counts"]
    assert (counts["sent"], counts["invalid_tokens"], counts["failed"]) == (48, 2, 0), push
    delivered = apns.received[tokens[5]][0]
    assert delivered["payload"] == {
        "aps": {"alert": {"title": "Hi", "body": "there"}, "sound": "default", "badge": 3},
        "k": 1,
    }
    assert delivered["headers"]["apns-topic"] == "com.example.app"
    # 50 notifications over at most 4 TLS connections: HTTP/2 streams were multiplexed.
    assert apns.connections <= 4
    listed = key_client(project.secret).get("/api/v1/installations", {"where": json.dumps({"active": False})}).json()
    assert sorted(i["token"] for i in listed["results"]) == sorted(tokens[:2])


def test_apns_refused_provider_token_fails_the_push_clearly(project, apns, configure):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.push import keys

    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    configure({"apns": {**keys.apns_section(), "key": other.decode()}})
    register(key_client(project.publishable), "apns", apns_token(7))
    push = _push(project, {"audience": {}, "notification": {"title": "x"}})
    assert push["status"] == "failed" and "apns" in push["error"]
    assert apns.received == {}


def test_apns_connections_outlive_a_batch_and_a_push(project, apns, monkeypatch):
    """One aioapns client per process and credentials: later batches and pushes reuse its HTTP/2
    connections instead of a TLS handshake and a new provider token each batch."""
    from basalt.push.providers import apns as apns_provider

    monkeypatch.setattr(apns_provider.Apns, "batch_size", 2)
    device = key_client(project.publishable)
    tokens = [apns_token(n) for n in range(1, 6)]
    for token in tokens:
        register(device, "apns", token)
    first = _push(project, {"audience": {}, "notification": {"title": "one"}})
    assert first["counts"]["sent"] == 5, first
    opened = apns.connections
    assert 1 <= opened <= 4
    second = _push(project, {"audience": {}, "notification": {"title": "two"}})
    assert second["counts"]["sent"] == 5, second
    # Six batches of at most two, every one of them over the connections the first one opened.
    assert apns.connections == opened
    assert sorted(len(apns.received[token]) for token in tokens) == [2] * 5


def _send_in_child(credentials, tokens, answer) -> None:
    from basalt.push.providers import apns as apns_provider
    from basalt.push.providers.base import Envelope, Outgoing

    envelope = Envelope(push_id="p_child", message={"notification": {"title": "child"}}, expires_at=None)
    items = [
        Outgoing(delivery_id=n, token=token, texts={"title": "child"}, badge=None) for n, token in enumerate(tokens)
    ]
    try:
        answer.send(sorted({o.kind for o in apns_provider.PROVIDER.send(credentials, envelope, items)}))
    except BaseException as exc:  # reported to the parent, which fails the test with it
        answer.send(repr(exc))


def test_a_forked_worker_process_sends_apns_on_its_own_loop(project, apns, settings):
    """Celery's prefork children are forked from a parent that may have sent already: the child
    must not use the parent's event loop (its thread does not exist after a fork) nor its client."""
    import multiprocessing

    from basalt.projects.models import Project
    from basalt.push import credentials

    settings.PUSH_HTTP_TIMEOUT = 2
    register(key_client(project.publishable), "apns", apns_token(1))
    assert _push(project, {"audience": {}, "notification": {"title": "parent"}})["counts"]["sent"] == 1
    creds = credentials.load(Project.objects.get(pk=project.project.pk), "apns")
    context = multiprocessing.get_context("fork")
    mine, theirs = context.Pipe()
    child = context.Process(target=_send_in_child, args=(creds, [apns_token(2), apns_token(3)], theirs))
    child.start()
    try:
        assert mine.poll(60), "the child process did not answer"
        assert mine.recv() == ["sent"]
    finally:
        child.join(10)
    assert len(apns.received[apns_token(2)]) == len(apns.received[apns_token(3)]) == 1
    # The parent's own client still works after the fork.
    register(key_client(project.publishable), "apns", apns_token(4))
    assert _push(project, {"audience": {}, "notification": {"title": "again"}})["counts"]["sent"] == 2


def test_webpush_payload_arrives_encrypted_and_exact(project, webpush):
    public = key_client(project.publishable).get("/api/v1/push/vapid-public-key").json()["public_key"]
    assert public == webpush.vapid_public
    device = key_client(project.publishable)
    register(device, "webpush", webpush.subscribe("alice"), locale="de")
    gone = register(device, "webpush", webpush.subscribe("bob"))
    webpush.gone.add("bob")
    push = _push(
        project,
        {
            "audience": {},
            "notification": {"title": "Hallo?", "body": "Body"},
            "localized": {"de-DE": {"title": "Hallo"}, "de": {"title": "Hallo!"}},
            "data": {"url": "/inbox"},
            "collapse_key": "inbox",
            "priority": "normal",
        },
    )
    assert push["counts"]["sent"] == 1 and push["counts"]["invalid_tokens"] == 1
    (plain,) = webpush.received["alice"]
    assert json.loads(plain) == {"title": "Hallo!", "body": "Body", "data": {"url": "/inbox"}}
    headers = webpush.headers["alice"][0]
    assert headers["urgency"] == "normal" and headers["topic"] == "inbox"
    assert key_client(project.secret).get(f"/api/v1/installations/{gone['id']}").json()["active"] is False

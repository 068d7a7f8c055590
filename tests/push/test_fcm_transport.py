"""How FCM sends travel: one access token per batch, a bounded set of kept-alive connections, and
the environment's proxy settings honoured although they are read once per app (fcm.py)."""

from __future__ import annotations

import pytest

from tests.push.conftest import key_client, register

pytestmark = pytest.mark.django_db(transaction=True)


def _push(project) -> dict:
    response = key_client(project.secret).post(
        "/api/v1/push", {"audience": {}, "notification": {"title": "x"}}, format="json"
    )
    assert response.status_code == 202, response.content
    return key_client(project.secret).get(f"/api/v1/push/{response.json()['id']}").json()


def _devices(project, count: int) -> list[str]:
    device = key_client(project.publishable)
    tokens = [f"transport-{n:04d}-" + "t" * 24 for n in range(count)]
    for token in tokens:
        register(device, "fcm", token)
    return tokens


def test_a_batch_asks_for_one_access_token_and_reuses_a_bounded_set_of_connections(project, fcm, settings):
    settings.PUSH_FCM_CONCURRENCY = 6
    tokens = _devices(project, 60)
    push = _push(project)
    assert push["counts"]["sent"] == 60, push
    assert sorted(fcm.delivered_tokens()) == tokens
    # Sixty concurrent sends, one token request (not one per send thread that found none) ...
    assert fcm.token_requests == 1
    # ... and at most 6 FCM connections, kept alive, plus the token request's own.
    assert fcm.http.connections <= 6 + 1


def test_proxy_settings_in_the_environment_are_honoured(project, fcm, monkeypatch):
    from tests.push.standins import fcm_stand_in

    proxy = fcm_stand_in()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.base)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        tokens = _devices(project, 5)
        push = _push(project)
        assert push["counts"]["sent"] == 5, push
        # Everything went through the proxy (absolute-form requests), nothing straight to FCM.
        assert sorted(proxy.delivered_tokens()) == tokens and proxy.proxied == 5 + 1
        assert fcm.requests == 0
    finally:
        proxy.close()


def test_no_proxy_in_the_environment_is_honoured(project, fcm, monkeypatch):
    from tests.push.standins import fcm_stand_in

    proxy = fcm_stand_in()
    try:
        monkeypatch.setenv("HTTP_PROXY", proxy.base)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        tokens = _devices(project, 3)
        assert _push(project)["counts"]["sent"] == 3
        assert sorted(fcm.delivered_tokens()) == tokens and proxy.requests == 0 and proxy.proxied == 0
    finally:
        proxy.close()


def test_a_batch_keeps_message_order_and_finishes_every_send_before_reporting_a_failure(settings):
    import threading

    from basalt.push.providers import fcm

    settings.PUSH_FCM_CONCURRENCY = 4
    assert fcm._each(lambda n: n * n, list(range(50))) == [n * n for n in range(50)]
    done = []
    lock = threading.Lock()

    def send(n: int) -> int:
        if n == 3:
            raise SystemExit("outside the library's error mapping")
        with lock:
            done.append(n)
        return n

    with pytest.raises(SystemExit):
        fcm._each(send, list(range(40)))
    # Only the drain that met the failure stopped; the others had sent all the rest when it was raised.
    assert sorted(done) == [n for n in range(40) if n != 3]

"""Fixtures for push tests: clients, signed-in users, credentials made from local keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.push import keys

PASSWORD = "Tr0ub4dor&3-horse"


def key_client(key: str, access: str | None = None) -> APIClient:
    client = APIClient()
    if access:
        client.credentials(HTTP_X_API_KEY=key, HTTP_AUTHORIZATION=f"Bearer {access}")
    else:
        client.credentials(HTTP_X_API_KEY=key)
    return client


_n = iter(range(1, 10**9))


@pytest.fixture
def signup(project):
    def make(key: str | None = None):
        key = key or project.publishable
        response = key_client(key).post(
            "/api/v1/auth/signup", {"email": f"u{next(_n)}@example.com", "password": PASSWORD}, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        return body["user"]["id"], key_client(key, body["access_token"])

    return make


@pytest.fixture(autouse=True)
def _inline_push_tasks(eager_tasks):
    """Pushes run inline in every pass (tests/conftest.py `eager_tasks`); T15 runs real workers."""


@pytest.fixture(autouse=True)
def _push_settings(settings):
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True
    settings.PUSH_MAX_ATTEMPTS = 5


@pytest.fixture
def fcm_token():
    counter = iter(range(1, 10**9))
    return lambda: f"fcm-token-{next(counter):08d}-" + "x" * 40


def apns_token(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture
def configure(project):
    """Store credentials through the settings service (validated and sealed like an upload)."""
    from basalt.projects.project_settings import update_settings

    def apply(section: dict) -> dict:
        return update_settings(project.project, {"push": section})

    return apply


__all__ = ["keys"]


@pytest.fixture
def fcm(settings, monkeypatch, configure):
    """A loopback FCM + token endpoint, with the project's FCM credentials pointing at it."""
    from tests.push import keys as local_keys
    from tests.push.standins import fcm_stand_in

    monkeypatch.setenv("NO_GCE_CHECK", "True")
    stand_in = fcm_stand_in()
    settings.PUSH_FCM_API_BASE = stand_in.base
    configure({"fcm": {"service_account": local_keys.service_account(stand_in.token_uri)}})
    yield stand_in
    stand_in.close()


@pytest.fixture
def apns(settings, configure):
    from tests.push import keys as local_keys
    from tests.push.standins import ApnsStandIn

    section = local_keys.apns_section()
    stand_in = ApnsStandIn(local_keys.p8()[1], section["key_id"], section["team_id"], section["bundle_id"])
    settings.PUSH_APNS_ENDPOINT = stand_in.endpoint
    settings.PUSH_APNS_CA_FILE = stand_in.ca
    configure({"apns": section})
    yield stand_in
    stand_in.close()


@pytest.fixture
def webpush(project, configure):
    from tests.push.standins import WebPushStandIn

    stand_in = WebPushStandIn()
    shown = configure({"webpush": {"generate": True, "subject": "mailto:ops@example.com"}})
    stand_in.vapid_public = shown["push"]["webpush"]["public_key"]
    yield stand_in
    stand_in.close()


def register(client, provider: str, token: str, **extra):
    platform = {"fcm": "android", "apns": "ios", "webpush": "web"}[provider]
    response = client.post(
        "/api/v1/installations", {"platform": platform, "provider": provider, "token": token, **extra}, format="json"
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


@pytest.fixture
def twins(configure):
    """In-memory twins in place of all three providers, with credentials stored for each."""
    from basalt.push import providers
    from basalt.push.providers.memory import MemoryProvider
    from tests.push import keys as local_keys

    configure(
        {
            "fcm": {"service_account": local_keys.service_account("http://127.0.0.1:9/token")},
            "apns": local_keys.apns_section(),
            "webpush": {"generate": True},
        }
    )
    made = {}
    previous = []
    for name in ("fcm", "apns", "webpush"):
        made[name] = MemoryProvider(providers.get(name))
        previous.append(providers.replace(made[name]))
    yield made
    for provider in previous:
        providers.replace(provider)

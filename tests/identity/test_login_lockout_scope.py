"""End-user sign-in lockout: failures lock the guessing address out of the account, never the owner."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def _login(project, address: str, password: str):
    client = APIClient(REMOTE_ADDR=address)
    return client.post(
        "/api/v1/auth/login",
        {"email": "owner@example.com", "password": password},
        format="json",
        HTTP_X_API_KEY=project.publishable,
    )


def test_failed_logins_from_one_address_never_lock_the_owner_out_elsewhere(project, settings):
    settings.IDENTITY_LOGIN_FAILURES_PER_ACCOUNT = 5
    signup = APIClient().post(
        "/api/v1/auth/signup",
        {"email": "owner@example.com", "password": PASSWORD},
        format="json",
        HTTP_X_API_KEY=project.publishable,
    )
    assert signup.status_code == 201, signup.content
    for _ in range(5):
        assert _login(project, "203.0.113.50", "wrong guess").status_code == 401
    blocked = _login(project, "203.0.113.50", PASSWORD)
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "rate_limited"
    assert _login(project, "203.0.113.51", PASSWORD).status_code == 200

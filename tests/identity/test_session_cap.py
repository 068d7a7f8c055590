"""Issue 8 #9: one user cannot hold unlimited sessions; past the project's cap the least recently used ends."""

from __future__ import annotations

import pytest

from basalt.identity.auth_settings import DEFAULTS
from basalt.identity.models import Session
from basalt.projects.project_settings import update_settings

from .conftest import PASSWORD, bearer_client, key_client


def _login(project, user):
    response = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_regression_sessions_per_user_are_capped_oldest_ended(project, user):
    update_settings(project.project, {"auth": {"max_sessions_per_user": 3}})
    signins = [_login(project, user) for _ in range(3)]  # with the sign-up's own session: 4 opened
    live = Session.objects.filter(user_id=user.id, revoked_at__isnull=True)
    assert live.count() == 3
    # The sign-up's session (the least recently used) ended: its tokens stop at once.
    assert user.client.get("/api/v1/auth/me").status_code == 401
    refreshed = key_client(project.publishable).post(
        "/api/v1/auth/refresh", {"refresh_token": user.refresh}, format="json"
    )
    assert refreshed.status_code == 401
    assert Session.objects.get(user_id=user.id, revoked_at__isnull=False).revoked_reason == "session_limit"
    for signin in signins:
        assert bearer_client(project.publishable, signin["access_token"]).get("/api/v1/auth/me").status_code == 200
    # A refreshed session counts as recently used: the next sign-in ends the idle one instead.
    first = signins[0]
    key_client(project.publishable).post(
        "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json"
    )
    _login(project, user)
    assert bearer_client(project.publishable, signins[1]["access_token"]).get("/api/v1/auth/me").status_code == 401
    assert Session.objects.filter(user_id=user.id, revoked_at__isnull=True).count() == 3


def test_session_cap_is_per_user_and_has_a_default(project, signup):
    assert DEFAULTS["max_sessions_per_user"] == 10
    alice, bob = signup(), signup()
    for _ in range(12):
        _login(project, alice)
    assert Session.objects.filter(user_id=alice.id, revoked_at__isnull=True).count() == 10
    assert bob.client.get("/api/v1/auth/me").status_code == 200


@pytest.mark.parametrize("value", [0, -1, 1001, "5", True, 2.5])
def test_bad_session_caps_are_refused(project, value):
    from basalt.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        update_settings(project.project, {"auth": {"max_sessions_per_user": value}})

"""Refresh-token reuse detection (T5) and failed-login throttling equivalence (T9)."""

from __future__ import annotations

import pytest

from basalt.identity.models import Session

from .conftest import PASSWORD, bearer_client, key_client


def _refresh(project, token):
    return key_client(project.publishable).post("/api/v1/auth/refresh", {"refresh_token": token}, format="json")


def test_reusing_a_spent_refresh_token_revokes_the_whole_session(project, user):
    """Replay of a spent refresh token ends the session: the thief's and the owner's tokens die."""
    rotated = _refresh(project, user.refresh).json()
    replay = _refresh(project, user.refresh)
    assert replay.status_code == 401
    assert Session.objects.get(pk=user.body["session_id"]).revoked_reason == "refresh_reuse"
    assert _refresh(project, rotated["refresh_token"]).status_code == 401
    assert bearer_client(project.publishable, rotated["access_token"]).get("/api/v1/auth/me").status_code == 401


def test_reuse_does_not_touch_the_users_other_sessions(project, user):
    other = (
        key_client(project.publishable)
        .post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
        .json()
    )
    _refresh(project, user.refresh)
    _refresh(project, user.refresh)
    assert bearer_client(project.publishable, other["access_token"]).get("/api/v1/auth/me").status_code == 200


def test_refresh_token_of_another_project_is_refused(project, make_project, user):
    other = make_project()
    response = _refresh(other, user.refresh)
    assert response.status_code == 401
    assert not Session.objects.get(pk=user.body["session_id"]).revoked_at


@pytest.mark.parametrize("bad", [None, 42, "", "rt_nope", "x" * 10000, ["rt_a"], {"a": 1}])
def test_bad_refresh_tokens_are_401(project, bad):
    response = _refresh(project, bad)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_expired_refresh_token(project, user):
    from django.utils import timezone

    Session.objects.filter(pk=user.body["session_id"]).update(refresh_expires_at=timezone.now())
    response = _refresh(project, user.refresh)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


# --- throttling -------------------------------------------------------------------------------


@pytest.fixture
def small_limits(settings):
    settings.IDENTITY_LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.IDENTITY_LOGIN_FAILURES_PER_ADDRESS = 12


def _login(client, path, **body):
    return client.post(path, body, format="json")


def test_failed_logins_for_one_account_hit_one_bucket_whatever_the_spelling(project, user, small_limits):
    """Trailing slash, letter case of the email, and username vs email all count in one bucket."""
    client = key_client(project.publishable)
    variants = [
        ("/api/v1/auth/login", {"email": user.email}),
        ("/api/v1/auth/login/", {"email": user.email.upper()}),
        ("/api/v1/auth/login", {"email": "  " + user.email + " "}),
        ("/api/v1/auth/login/", {"email": user.email.title()}),
        ("/api/v1/auth/login", {"email": user.email}),
    ]
    for path, who in variants:
        response = _login(client, path, password="wrong-password", **who)
        assert response.status_code == 401
    blocked = _login(client, "/api/v1/auth/login/", email=user.email, password=PASSWORD)
    assert blocked.status_code == 429
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert int(blocked["Retry-After"]) > 0


def test_username_and_email_of_one_account_share_the_bucket(project, signup, small_limits):
    user = signup(username="bucketed")
    client = key_client(project.publishable)
    for index in range(5):
        who = {"email": user.email} if index % 2 else {"username": "BUCKETED"}
        assert _login(client, "/api/v1/auth/login", password="nope-nope", **who).status_code == 401
    assert _login(client, "/api/v1/auth/login", username="bucketed", password=PASSWORD).status_code == 429


def test_unknown_accounts_are_throttled_the_same_way(project, small_limits):
    client = key_client(project.publishable)
    statuses = [
        _login(client, "/api/v1/auth/login", email="ghost@example.com", password="x").status_code for _ in range(7)
    ]
    assert statuses == [401] * 5 + [429] * 2


def test_one_address_spraying_many_accounts_is_throttled(project, small_limits):
    client = key_client(project.publishable)
    statuses = [
        _login(client, "/api/v1/auth/login", email=f"spray{i}@example.com", password="x").status_code for i in range(14)
    ]
    assert statuses[:12] == [401] * 12
    assert statuses[12:] == [429, 429]


def test_forged_forwarded_for_from_untrusted_peer_does_not_open_a_new_bucket(project, small_limits):
    """With no trusted proxy, X-Forwarded-For is ignored: rotating it does not reset the count."""
    client = key_client(project.publishable)
    statuses = [
        client.post(
            "/api/v1/auth/login",
            {"email": f"s{i}@example.com", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        ).status_code
        for i in range(13)
    ]
    assert statuses[-1] == 429


def test_trusted_proxy_count_makes_forwarded_address_the_bucket(project, small_limits, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = key_client(project.publishable)
    for i in range(13):
        response = client.post(
            "/api/v1/auth/login",
            {"email": f"s{i}@example.com", "password": "x"},
            format="json",
            HTTP_X_FORWARDED_FOR=f"10.0.0.{i}",
        )
        assert response.status_code == 401


def test_success_resets_the_account_count(project, user, small_limits):
    client = key_client(project.publishable)
    for _ in range(4):
        _login(client, "/api/v1/auth/login", email=user.email, password="wrong-password")
    assert _login(client, "/api/v1/auth/login", email=user.email, password=PASSWORD).status_code == 200
    for _ in range(4):
        assert _login(client, "/api/v1/auth/login", email=user.email, password="wrong").status_code == 401


def test_method_override_header_does_not_reach_another_route(project, user, small_limits):
    """X-HTTP-Method-Override is not honoured: a GET with it is 405, and it never logs in."""
    client = key_client(project.publishable)
    response = client.get("/api/v1/auth/login", HTTP_X_HTTP_METHOD_OVERRIDE="POST")
    assert response.status_code == 405
    for _ in range(5):
        client.post(
            "/api/v1/auth/login?x=1",
            {"email": user.email, "password": "bad"},
            format="json",
            HTTP_X_HTTP_METHOD_OVERRIDE="PUT",
        )
    assert _login(client, "/api/v1/auth/login", email=user.email, password=PASSWORD).status_code == 429


def test_account_creation_is_limited_per_address(project, settings):
    """Sign-ups and anonymous users share one per-address budget; every attempt spends it."""
    settings.IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR = 4
    client = key_client(project.publishable)
    assert client.post("/api/v1/auth/signup", {"email": "bad"}, format="json").status_code == 400
    statuses = [
        client.post(
            "/api/v1/auth/signup", {"email": f"n{i}@example.com", "password": PASSWORD}, format="json"
        ).status_code
        for i in range(2)
    ]
    statuses.append(client.post("/api/v1/auth/anonymous", {}, format="json").status_code)
    statuses.append(client.post("/api/v1/auth/anonymous", {}, format="json").status_code)
    assert statuses == [201, 201, 201, 429]

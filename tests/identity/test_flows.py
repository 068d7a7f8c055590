"""Happy paths of API.md §4: sign-up, login, refresh, logout, anonymous, me, sessions."""

from __future__ import annotations

from .conftest import PASSWORD, bearer_client, key_client


def test_signup_returns_user_and_tokens(publishable_client):
    """Sign-up answers 201 with the user (no password) and a token pair."""
    response = publishable_client.post(
        "/api/v1/auth/signup", {"email": "Ann@Example.com", "password": PASSWORD, "nickname": "ann"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["nickname"] == "ann"
    assert body["user"]["email_verified"] is False
    assert "password" not in body["user"]
    assert body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"].startswith("rt_")
    assert response["Cache-Control"] == "no-store"


def test_login_by_email_and_username_then_me(project, signup):
    """A user logs in with email (any case) or username and reads itself with the token."""
    user = signup(username="Annie")
    client = key_client(project.publishable)
    by_email = client.post("/api/v1/auth/login", {"email": user.email.upper(), "password": PASSWORD}, format="json")
    assert by_email.status_code == 200, by_email.content
    by_name = client.post("/api/v1/auth/login", {"username": "annie", "password": PASSWORD}, format="json")
    assert by_name.status_code == 200
    me = bearer_client(project.publishable, by_name.json()["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["id"] == user.id
    assert me.json()["username"] == "Annie"


def test_project_endpoint_sees_user(project, user):
    """The bearer resolver attaches the user to every data-API request."""
    response = user.client.get("/api/v1/project")
    assert response.status_code == 200
    assert response.json()["user_id"] == user.id

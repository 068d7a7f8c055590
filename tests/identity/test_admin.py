"""User administration with the secret key, and self-deletion."""

from __future__ import annotations

import pytest

from basalt.documents.models import Document
from basalt.identity.models import EndUser, Session

from .conftest import PASSWORD, key_client


def test_secret_key_disables_a_user_and_every_session_ends(project, user):
    admin = key_client(project.secret)
    response = admin.patch(f"/api/v1/auth/users/{user.id}", {"disabled": True}, format="json")
    assert response.status_code == 200 and response.json()["disabled"] is True
    assert user.client.get("/api/v1/auth/me").status_code == 401
    login = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 401
    admin.patch(f"/api/v1/auth/users/{user.id}", {"disabled": False}, format="json")
    login = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_secret_key_marks_email_verified_and_the_mirror_follows(project, user):
    admin = key_client(project.secret)
    assert admin.patch(f"/api/v1/auth/users/{user.id}", {"email_verified": True}, format="json").status_code == 200
    assert Document.objects.get(pk=user.id).data["email_verified"] is True
    assert admin.get(f"/api/v1/auth/users/{user.id}").json()["email_verified"] is True


def test_secret_key_deletes_a_user_and_revokes_sessions(project, user, signup):
    other = signup()
    admin = key_client(project.secret)
    assert admin.delete(f"/api/v1/auth/users/{other.id}/sessions").status_code == 204
    assert other.client.get("/api/v1/auth/me").status_code == 401
    assert admin.delete(f"/api/v1/auth/users/{user.id}").status_code == 204
    assert user.client.get("/api/v1/auth/me").status_code == 401
    assert not EndUser.objects.filter(pk=user.id).exists() and not Document.objects.filter(pk=user.id).exists()


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_user_admin_needs_the_secret_key(project, user, signup, method):
    other = signup()
    for client in (key_client(project.publishable), other.client, user.client):
        response = getattr(client, method)(f"/api/v1/auth/users/{user.id}", {"disabled": True}, format="json")
        assert response.status_code == 403
    assert EndUser.objects.get(pk=user.id).disabled is False


def test_user_admin_is_per_project(project, make_project, user):
    other = make_project()
    response = key_client(other.secret).patch(f"/api/v1/auth/users/{user.id}", {"disabled": True}, format="json")
    assert response.status_code == 404
    assert key_client(other.secret).delete(f"/api/v1/auth/users/{user.id}").status_code == 404
    assert EndUser.objects.filter(pk=user.id, disabled=False).exists()


@pytest.mark.parametrize("body", [{}, {"email": "x@example.com"}, {"disabled": "yes"}, {"password": "x"}, [], None])
def test_user_admin_refuses_other_changes(project, user, body):
    response = key_client(project.secret).patch(f"/api/v1/auth/users/{user.id}", body, format="json")
    assert response.status_code == 400


def test_user_deletes_own_account_with_password(project, user):
    assert user.client.delete("/api/v1/auth/me", {}, format="json").status_code == 400
    assert user.client.delete("/api/v1/auth/me", {"current_password": "wrong"}, format="json").status_code == 400
    assert user.client.delete("/api/v1/auth/me", {"current_password": PASSWORD}, format="json").status_code == 204
    assert not EndUser.objects.filter(pk=user.id).exists()
    assert not Session.objects.filter(user_id=user.id).exists()


def test_anonymous_user_deletes_itself(project):
    body = key_client(project.publishable).post("/api/v1/auth/anonymous", {}, format="json").json()
    client = key_client(project.publishable)
    client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert client.delete("/api/v1/auth/me").status_code == 204
    assert not EndUser.objects.exists()


def test_login_upgrades_a_hash_made_at_an_older_argon2_cost(project, user, settings):
    before = EndUser.objects.get(pk=user.id).password
    settings.ARGON2_TIME_COST = 2
    login = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200
    after = EndUser.objects.get(pk=user.id).password
    assert after != before and "t=2" in after

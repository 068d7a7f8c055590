"""Issue 8 #4: custom user fields written by the user follow the `users` rules, like any document write."""

from __future__ import annotations

import pytest

from basalt.documents.models import Document
from basalt.identity.models import EndUser

from .conftest import PASSWORD, PROFILE_PERMISSIONS, declare_user_fields, key_client

SERVER_FIELDS = {
    "credits": {"type": "number", "default": 0},
    "plan": {"type": "string"},
    "nickname": {"type": "string"},
}
PROTECTED = {"*": ["email", "email_verified", "is_anonymous", "credits", "plan"]}
READ_ONLY = {"get": ["authenticated"], "find": ["authenticated"], "count": ["authenticated"]}


def _signup(project, **body):
    return key_client(project.publishable).post(
        "/api/v1/auth/signup", {"email": "x@example.com", "password": PASSWORD, **body}, format="json"
    )


def test_regression_signup_cannot_set_custom_fields_without_create_permission(project):
    declare_user_fields(project.project, SERVER_FIELDS, protected_fields=PROTECTED, permissions=READ_ONLY)
    response = _signup(project, nickname="neo")
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"
    assert not EndUser.objects.filter(project=project.project).exists()
    # Defaults still apply to a sign-up that sends no custom field.
    plain = _signup(project)
    assert plain.status_code == 201, plain.content
    assert Document.objects.get(pk=plain.json()["user"]["id"]).data["credits"] == 0


@pytest.mark.parametrize("body", [{"credits": 1000000}, {"plan": "enterprise"}, {"plan": "pro", "nickname": "neo"}])
def test_regression_signup_cannot_set_protected_user_fields(project, body):
    """Even where sign-up may set profile fields, a protected one is the server's."""
    declare_user_fields(project.project, SERVER_FIELDS, protected_fields=PROTECTED, permissions=PROFILE_PERMISSIONS)
    response = _signup(project, **body)
    assert response.status_code == 403, response.content
    assert set(response.json()["error"]["details"]) == set(body) - {"nickname"}
    assert not EndUser.objects.filter(project=project.project).exists()
    assert _signup(project, nickname="neo").status_code == 201


def test_regression_patch_me_needs_the_users_update_permission(project, signup):
    declare_user_fields(project.project, SERVER_FIELDS, protected_fields=PROTECTED, permissions=READ_ONLY)
    user = signup()
    response = user.client.patch("/api/v1/auth/me", {"credits": 1000000, "plan": "pro"}, format="json")
    assert response.status_code == 403, response.content
    response = user.client.patch("/api/v1/auth/me", {"nickname": "neo"}, format="json")
    assert response.status_code == 403, response.content
    data = Document.objects.get(pk=user.id).data
    assert data["credits"] == 0 and "plan" not in data and "nickname" not in data
    # Identity fields are not document writes: a user changes their username without the grant.
    assert user.client.patch("/api/v1/auth/me", {"username": "neo_1"}, format="json").status_code == 200


def test_regression_patch_me_cannot_write_protected_user_fields(project, signup):
    declare_user_fields(project.project, SERVER_FIELDS, protected_fields=PROTECTED, permissions=PROFILE_PERMISSIONS)
    user = signup()
    for body in ({"credits": 1000000}, {"credits": {"__op": "increment", "by": 5}}, {"plan": None}):
        response = user.client.patch("/api/v1/auth/me", body, format="json")
        assert response.status_code == 403, (body, response.content)
    # The same rule through the documents API (one rule, every face).
    direct = user.client.patch(f"/api/v1/collections/users/documents/{user.id}", {"credits": 7}, format="json")
    assert direct.status_code == 403, direct.content
    # A refused custom field leaves the rest of the request unapplied too.
    mixed = user.client.patch("/api/v1/auth/me", {"username": "neo_2", "plan": "pro"}, format="json")
    assert mixed.status_code == 403
    assert EndUser.objects.get(pk=user.id).username is None
    ok = user.client.patch("/api/v1/auth/me", {"nickname": "neo"}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["nickname"] == "neo" and ok.json()["credits"] == 0  # the owner still reads them
    # The secret key sets them.
    admin = key_client(project.secret).patch(
        f"/api/v1/collections/users/documents/{user.id}", {"credits": 50}, format="json"
    )
    assert admin.status_code == 200, admin.content
    assert user.client.get("/api/v1/auth/me").json()["credits"] == 50


def test_regression_patch_me_follows_the_document_acl(project, signup):
    declare_user_fields(project.project, SERVER_FIELDS, protected_fields=PROTECTED, permissions=PROFILE_PERMISSIONS)
    user = signup()
    locked = key_client(project.secret).patch(
        f"/api/v1/collections/users/documents/{user.id}", {"acl": {"*": {"read": True}}}, format="json"
    )
    assert locked.status_code == 200, locked.content
    response = user.client.patch("/api/v1/auth/me", {"nickname": "neo"}, format="json")
    assert response.status_code == 403, response.content
    assert "nickname" not in Document.objects.get(pk=user.id).data


@pytest.mark.parametrize("username", ["alice\n", "alice\r\n", "al\nice"])
def test_regression_usernames_with_a_newline_are_refused(project, username):
    response = _signup(project, username=username)
    assert response.status_code == 400, response.content
    assert "username" in response.json()["error"]["details"]

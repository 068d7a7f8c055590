"""Hostile input on every identity endpoint: always the JSON error contract, never a 500."""

from __future__ import annotations

import pytest

from basalt.identity.models import EndUser

from .conftest import PASSWORD, key_client

JUNK_BODIES = [
    [],
    "string",
    42,
    None,
    {"email": ["a"]},
    {"email": {"$ne": None}, "password": {"$gt": ""}},
    {"email": "a" * 5000 + "@x.com", "password": PASSWORD},
    {"email": "not-an-email", "password": PASSWORD},
    {"email": "x@example.com", "password": 12345678},
    {"email": "x@example.com", "password": "p" * 100000},
    {"username": "a b", "password": PASSWORD},
    {"email": "x@example.com", "password": PASSWORD, "id": "aaaaaaaaaaaaaaaaaaaa"},
    {"email": "x@example.com", "password": PASSWORD, "email_verified": True},
    {"email": "x@example.com", "password": PASSWORD, "is_anonymous": True},
    {"email": "x@example.com", "password": PASSWORD, "created_at": "2020-01-01T00:00:00Z"},
    {"email": "x@example.com", "password": PASSWORD, "sessions": []},
    {"email": "x@example.com", "password": PASSWORD, "acl": {"*": {"write": True}}},
    {"email": "x@example.com", "password": PASSWORD, "Bad-Field": 1},
    {"email": "x@example.com", "password": PASSWORD, "__proto__": {"admin": True}},
]
POST_PATHS = [
    "/api/v1/auth/signup",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/verify/confirm",
    "/api/v1/auth/password/reset",
    "/api/v1/auth/password/reset/confirm",
    "/api/v1/auth/verify/request",
    "/api/v1/auth/anonymous",
    "/api/v1/auth/logout",
]


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("body", JUNK_BODIES, ids=range(len(JUNK_BODIES)))
def test_junk_bodies_get_json_4xx_and_create_nothing(project, path, body):
    response = key_client(project.publishable).post(path, body, format="json")
    assert 200 <= response.status_code < 500, response.content
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"code", "message"}
    if path == "/api/v1/auth/signup":
        assert response.status_code == 400
        assert not EndUser.objects.exists()


@pytest.mark.parametrize("path", [p for p in POST_PATHS if not p.endswith(("anonymous", "logout"))])
def test_invalid_json_and_wrong_media_type(project, path):
    """Endpoints that read a body refuse broken JSON (anonymous and logout take none)."""
    client = key_client(project.publishable)
    broken = client.post(path, b'{"email": ', content_type="application/json")
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    form = client.post(path, "email=a", content_type="application/x-www-form-urlencoded")
    assert form.status_code in (400, 401, 415)
    assert "error" in form.json()


@pytest.mark.parametrize("path", POST_PATHS + ["/api/v1/auth/me", "/api/v1/auth/sessions", "/api/v1/roles"])
def test_no_or_wrong_api_key_is_invalid_api_key(db, api, path):
    response = api.post(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    api.credentials(HTTP_X_API_KEY="pk_forged")
    assert api.post(path, {}, format="json").json()["error"]["code"] == "invalid_api_key"


def test_huge_body_is_413(project, profile_fields):
    response = key_client(project.publishable).post(
        "/api/v1/auth/signup",
        {"email": "x@example.com", "password": PASSWORD, "blob": "x" * (2 * 1024 * 1024)},
        format="json",
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "patch",
    [
        {"id": "aaaaaaaaaaaaaaaaaaaa"},
        {"email_verified": True},
        {"is_anonymous": True},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"updated_at": "2020-01-01T00:00:00Z"},
        {"sessions": []},
        {"roles": ["admin"]},
        {"disabled": False},
        {"password": "Another-strong-pass-1"},
        {"acl": {"*": {"read": True}}},
        {"data": {"x": 1}},
        {"Email_Verified": True},
        [],
        "x",
    ],
)
def test_mass_assignment_on_me_is_refused_and_changes_nothing(project, user, patch):
    before = EndUser.objects.values().get(pk=user.id)
    response = user.client.patch("/api/v1/auth/me", patch, format="json")
    assert response.status_code == 400, patch
    assert response.json()["error"]["code"] == "validation_failed"
    assert EndUser.objects.values().get(pk=user.id) == before


def test_signed_out_profile_routes_are_401_whatever_the_body_and_idempotency_key(project):
    """Found by the schema fuzzer: the body was refused (415, 400) before the missing sign-in, that
    answer was kept under its Idempotency-Key, and the next signed-out request with the key was a 422."""
    client = key_client(project.publishable)
    for method, path in (
        ("PATCH", "/api/v1/auth/me"),
        ("DELETE", "/api/v1/auth/me"),
        ("POST", "/api/v1/auth/me/identities/google"),
    ):
        for body, media_type in (
            ("x", "text/plain"),
            ("{", "application/json"),
            ("[]", "application/json"),
            ("{}", "application/json"),
        ):
            response = client.generic(
                method, path, body, content_type=media_type, HTTP_IDEMPOTENCY_KEY=f"k-{method}-{path}"
            )
            assert response.status_code == 401, (method, path, body, response.content)
            assert response.json()["error"]["code"] == "unauthenticated"


def test_signup_duplicate_email_any_case_is_409(project, signup):
    user = signup()
    response = key_client(project.publishable).post(
        "/api/v1/auth/signup", {"email": user.email.upper(), "password": PASSWORD}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "unique_violation"
    assert "email" in response.json()["error"]["details"]


def test_same_email_in_two_projects_is_two_users(project, make_project, signup):
    other = make_project()
    first = signup(email="same@example.com")
    second = signup(email="same@example.com", key=other.publishable)
    assert first.id != second.id


def test_login_with_password_of_other_project_user_fails(project, make_project, signup):
    other = make_project()
    signup(email="one@example.com", key=other.publishable)
    response = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": "one@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


@pytest.mark.parametrize("session_id", ["x" * 300, "../../etc", "%00", "' OR 1=1 --"])
def test_hostile_session_ids_are_404(user, session_id):
    response = user.client.delete(f"/api/v1/auth/sessions/{session_id}")
    assert response.status_code == 404


def test_anonymous_user_cannot_log_in_with_empty_password(project):
    client = key_client(project.publishable)
    client.post("/api/v1/auth/anonymous", {}, format="json")
    assert client.post("/api/v1/auth/login", {"username": "anything", "password": ""}, format="json").status_code == 401


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/auth/login", {"email": "a\x00@example.com", "password": "x"}),
        ("/api/v1/auth/login", {"username": "a\x00b", "password": "x"}),
        ("/api/v1/auth/signup", {"email": "n@example.com", "password": PASSWORD, "bio": "a\x00b"}),
        ("/api/v1/auth/signup", {"email": "n@example.com", "password": PASSWORD, "meta": {"k\x00": 1}}),
        ("/api/v1/auth/password/reset", {"email": "a\x00@example.com"}),
        ("/api/v1/auth/verify/confirm", {"token": "a\x00"}),
        ("/api/v1/auth/refresh", {"refresh_token": "rt_\x00"}),
    ],
)
def test_nul_characters_are_4xx_not_500(project, profile_fields, path, body):
    """PostgreSQL cannot store U+0000: it must be refused as input, never reach the database."""
    response = key_client(project.publishable).post(path, body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert not EndUser.objects.exists()


def test_nul_in_role_member_ids_is_400(project):
    admin = key_client(project.secret)
    admin.post("/api/v1/roles", {"name": "r"}, format="json")
    assert admin.post("/api/v1/roles/r/users", {"ids": ["a\x00"]}, format="json").status_code == 400
    assert admin.post("/api/v1/roles/r/roles", {"names": ["a\x00"]}, format="json").status_code == 400

"""The bearer-resolution cache: one statement per signed-in request, and no change is ever missed.

Every test first makes a request with the token so its resolution is cached, then changes who
the caller is by one path, and expects the very next request to see it (SECURITY.md T5).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from basalt.identity import services
from basalt.identity.models import CallerEpoch, EndUser, Role, RoleMember, Session, SigningKey
from basalt.projects.caller import resolve_caller

from .conftest import key_client

pytestmark = pytest.mark.django_db


class _Request:
    """One HTTP request's headers. A request keeps the caller it resolved (the idempotency middleware
    and the view share it), so each "next request" below is `again()`, a new one."""

    def __init__(self, key: str, token: str):
        self.key, self.token = key, token
        self.META = {"HTTP_X_API_KEY": key, "HTTP_AUTHORIZATION": f"Bearer {token}"}

    def again(self) -> _Request:
        return _Request(self.key, self.token)


def _statements(call) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as queries:
        result = call()
    return len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]), result


def _epoch(project) -> int:
    row = CallerEpoch.objects.filter(project_id=project.project.pk).values_list("version", flat=True).first()
    return row or 0


def _warm(user) -> None:
    assert user.client.get("/api/v1/auth/me").status_code == 200
    assert user.client.get("/api/v1/auth/me").status_code == 200


def _refused(user) -> None:
    response = user.client.get("/api/v1/auth/me")
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "invalid_token"


def test_a_cached_resolution_costs_only_the_key_lookup(project, user):
    request = _Request(project.publishable, user.access)
    first, caller = _statements(lambda: resolve_caller(request))
    same, kept = _statements(lambda: resolve_caller(request))
    again, cached = _statements(lambda: resolve_caller(request.again()))
    assert first >= 2  # key (+ project + epoch), session and roles (and the public key, once)
    assert same == 0 and kept is caller  # the same request resolves its caller once
    assert again == 1  # key (+ project + epoch) only
    assert cached == caller and cached.user_id == user.id


def test_logout_ends_a_cached_token_on_the_next_request(project, user):
    _warm(user)
    assert user.client.post("/api/v1/auth/logout").status_code == 204
    _refused(user)


def test_a_session_revoked_by_any_sql_ends_a_cached_token(project, user):
    """Triggers, not call sites, bump the epoch: even a bare UPDATE cannot be missed."""
    _warm(user)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Session._meta.db_table} SET revoked_at = %s WHERE id = %s",
            ["2026-01-01T00:00:00Z", user.body["session_id"]],
        )
    _refused(user)


def test_disabling_and_deleting_users_end_cached_tokens(project, user, signup):
    other = signup()
    _warm(user)
    _warm(other)
    services.set_disabled(project.project, user.id, True)
    _refused(user)
    services.delete_user(project.project, other.id)
    _refused(other)


def test_revoking_all_sessions_through_the_admin_api_ends_a_cached_token(project, user):
    _warm(user)
    assert key_client(project.secret).delete(f"/api/v1/auth/users/{user.id}/sessions").status_code == 204
    _refused(user)


def test_role_changes_reach_a_cached_caller_on_the_next_request(project, signup):
    admin = key_client(project.secret)
    user = signup()
    request = _Request(project.publishable, user.access)
    for name in ("editors", "chiefs"):
        assert admin.post("/api/v1/roles", {"name": name}, format="json").status_code == 201
    assert "role:editors" not in resolve_caller(request.again()).principals
    resolve_caller(request.again())  # cached without the role

    assert admin.post("/api/v1/roles/editors/users", {"ids": [user.id]}, format="json").status_code == 200
    assert "role:editors" in resolve_caller(request.again()).principals

    # inheritance: members of editors also hold chiefs
    assert admin.post("/api/v1/roles/chiefs/roles", {"names": ["editors"]}, format="json").status_code == 200
    assert "role:chiefs" in resolve_caller(request.again()).principals

    assert admin.patch("/api/v1/roles/chiefs", {"name": "bosses"}, format="json").status_code == 200
    assert {"role:bosses", "role:editors"} <= resolve_caller(request.again()).principals
    assert "role:chiefs" not in resolve_caller(request.again()).principals

    RoleMember.objects.filter(user_id=user.id).delete()  # a bulk delete, no model signals
    principals = resolve_caller(request.again()).principals
    assert "role:editors" not in principals and "role:bosses" not in principals


def test_a_signing_key_change_ends_the_cached_resolution(project, user):
    request = _Request(project.publishable, user.access)
    resolve_caller(request.again())
    assert _statements(lambda: resolve_caller(request.again()))[0] == 1
    before = _epoch(project)
    SigningKey.objects.filter(project=project.project).update(retired_at="2026-01-01T00:00:00Z")
    assert _epoch(project) == before  # not a column that decides validity
    SigningKey.objects.filter(project=project.project).update(status="retired")
    assert _epoch(project) == before + 1
    assert _statements(lambda: resolve_caller(request.again()))[0] >= 2  # resolved afresh


def test_unrelated_writes_leave_the_epoch_alone(project, user, signup):
    """Sign-ins, refreshes and profile edits do not flush every cached caller of the project."""
    resolve_caller(_Request(project.publishable, user.access))
    epoch = _epoch(project)
    signup()
    refreshed = key_client(project.publishable).post(
        "/api/v1/auth/refresh", {"refresh_token": user.refresh}, format="json"
    )
    assert refreshed.status_code == 200, refreshed.content
    EndUser.objects.filter(pk=user.id).update(email_verified=True)
    Role.objects.create(project=project.project, name="nobody-yet")
    assert _epoch(project) == epoch


def test_a_token_of_another_project_is_not_served_from_the_cache(project, make_project, user):
    other = make_project()
    resolve_caller(_Request(project.publishable, user.access))
    response = key_client(other.publishable)
    response.credentials(HTTP_X_API_KEY=other.publishable, HTTP_AUTHORIZATION=f"Bearer {user.access}")
    assert response.get("/api/v1/auth/me").status_code == 401


def test_a_revoked_key_is_refused_on_the_next_request(project, user):
    from basalt.projects import services as project_services
    from basalt.projects.models import ApiKey

    _warm(user)
    key = ApiKey.objects.get(project=project.project, kind="publishable", revoked_at__isnull=True)
    project_services.revoke_key(project.owner, project.project.ref, key.id)
    response = user.client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"

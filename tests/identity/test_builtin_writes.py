"""T6: the documents API cannot bypass identity on the built-in `users` and `roles` collections.

Every face (REST, batch, console) goes through the same document services, so each refusal is
asserted over REST and batch, and always with the secret key too: it bypasses permissions and
ACLs, never identity. A refusal changes nothing: no row, no change-log entry.
"""

from __future__ import annotations

import pytest

from basalt.documents import catalog
from basalt.documents.models import ChangeLogEntry, Document
from basalt.identity.models import EndUser, Role, RoleMember

from .conftest import PASSWORD, declare_user_fields, key_client

USERS = "/api/v1/collections/users/documents"
ROLES = "/api/v1/collections/roles/documents"
IDENTITY_FIELDS = {
    "email": "forged@example.com",
    "username": "forged_name",
    "email_verified": True,
    "is_anonymous": True,
    "password": "Another-Passw0rd!",
}


def _log_size() -> int:
    return ChangeLogEntry.objects.count()


def _batch(client, *requests, transaction=False):
    body = {"transaction": transaction, "requests": [dict(zip(("method", "path", "body"), r)) for r in requests]}
    return client.post("/api/v1/batch", body, format="json")


def _open_users_update(project) -> None:
    """A developer opens `update` on `users` so users can edit their custom profile fields."""
    declare_user_fields(project.project, {"nickname": {"type": "string", "max_length": 40}})
    catalog.update_collection(
        project.project,
        "users",
        {"permissions": {"get": ["authenticated"], "find": ["authenticated"], "update": ["authenticated"]}},
    )


def test_regression_secret_key_cannot_create_orphan_users_documents(project):
    admin = key_client(project.secret)
    before, log = Document.objects.count(), _log_size()
    response = admin.post(USERS, {"email": "orphan@example.com", "username": "orphan"}, format="json")
    assert response.status_code == 403, response.content
    error = response.json()["error"]
    assert error["code"] == "permission_denied" and "/api/v1/auth/signup" in error["message"]
    batched = _batch(admin, ("POST", USERS, {"username": "orphan"}))
    assert batched.status_code == 200 and batched.json()["results"][0]["status"] == 403
    atomic = _batch(admin, ("POST", USERS, {}), transaction=True)
    assert atomic.status_code == 403 and atomic.json()["error"]["details"]["index"] == 0
    assert (Document.objects.count(), _log_size()) == (before, log)
    assert not EndUser.objects.filter(project=project.project).exists()


@pytest.mark.parametrize("field", sorted(IDENTITY_FIELDS))
def test_regression_secret_key_cannot_change_identity_fields_of_a_users_document(project, user, field):
    """The login row and the document never drift apart: the change is refused, nothing moves."""
    admin = key_client(project.secret)
    doc_before, log = Document.objects.get(pk=user.id).data, _log_size()
    response = admin.patch(f"{USERS}/{user.id}", {field: IDENTITY_FIELDS[field]}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and field in error["details"]
    assert "/api/v1/auth/" in error["message"]
    batched = _batch(admin, ("PATCH", f"{USERS}/{user.id}", {field: IDENTITY_FIELDS[field]}))
    assert batched.json()["results"][0]["status"] == 400
    assert Document.objects.get(pk=user.id).data == doc_before and _log_size() == log
    row = EndUser.objects.get(pk=user.id)
    assert (row.email, row.email_verified, row.is_anonymous) == (user.email, False, False)
    login = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200


def test_regression_opened_update_on_users_does_not_let_a_user_verify_their_own_email(project, user):
    _open_users_update(project)
    mine = f"{USERS}/{user.id}"
    forged = user.client.patch(mine, {"email_verified": True, "nickname": "n"}, format="json")
    assert forged.status_code == 400, forged.content
    assert set(forged.json()["error"]["details"]) == {"email_verified"}
    via_batch = _batch(user.client, ("PATCH", mine, {"email_verified": True}), transaction=True)
    assert via_batch.status_code == 400 and via_batch.json()["error"]["details"]["index"] == 0
    via_op = user.client.patch(mine, {"email": {"__op": "unset"}}, format="json")
    assert via_op.status_code == 400
    assert EndUser.objects.get(pk=user.id).email_verified is False
    assert Document.objects.get(pk=user.id).data["email_verified"] is False
    # Custom profile fields stay writable under the collection's rules, and identity sees them.
    ok = user.client.patch(mine, {"nickname": "nick"}, format="json")
    assert ok.status_code == 200, ok.content
    assert user.client.get("/api/v1/auth/me").json()["nickname"] == "nick"


def test_regression_users_documents_cannot_be_deleted_through_the_documents_api(project, user):
    _open_users_update(project)
    catalog.update_collection(project.project, "users", {"permissions": {"delete": ["authenticated"]}})
    for client in (key_client(project.secret), user.client):
        response = client.delete(f"{USERS}/{user.id}")
        assert response.status_code == 403, response.content
        assert "/api/v1/auth/" in response.json()["error"]["message"]
        assert _batch(client, ("DELETE", f"{USERS}/{user.id}", None)).json()["results"][0]["status"] == 403
    assert Document.objects.filter(pk=user.id).exists() and EndUser.objects.filter(pk=user.id).exists()
    assert user.client.get("/api/v1/auth/me").status_code == 200


def test_regression_role_membership_and_name_cannot_be_written_through_the_documents_api(project, signup):
    """Role escalation by writing membership directly, even with the secret key or a writable role ACL."""
    admin = key_client(project.secret)
    member, outsider = signup(), signup()
    created = admin.post(
        "/api/v1/roles",
        {"name": "team", "users": [member.id], "acl": {member.id: {"read": True, "write": True}}},
        format="json",
    )
    assert created.status_code == 201, created.content
    role_id = created.json()["id"]
    path = f"{ROLES}/{role_id}"
    log = _log_size()
    writes = [
        {"users": {"__op": "add_relation", "ids": [outsider.id]}},
        {"users": {"__op": "remove_relation", "ids": [member.id]}},
        {"roles": {"__op": "add_relation", "ids": [role_id]}},
        {"name": "admins"},
        {"acl": {"*": {"read": True, "write": True}}},
    ]
    for body in writes:
        response = admin.patch(path, body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert "/api/v1/roles" in response.json()["error"]["message"]
        # The collection grants no `update`; the role's own ACL does not open its document.
        assert member.client.patch(path, body, format="json").status_code == 403
        assert _batch(admin, ("PATCH", path, body)).json()["results"][0]["status"] == 400
    assert admin.post(ROLES, {"name": "admins"}, format="json").status_code == 403
    assert admin.delete(path).status_code == 403
    assert _batch(admin, ("DELETE", path, None)).json()["results"][0]["status"] == 403
    role = Role.objects.get(project=project.project, name="team")
    assert list(RoleMember.objects.filter(role=role).values_list("user_id", flat=True)) == [member.id]
    assert Document.objects.get(pk=role_id).data == {"name": "team"} and _log_size() == log
    # The roles service is the way in, for those allowed by the role's ACL.
    added = member.client.post("/api/v1/roles/team/users", {"ids": [outsider.id]}, format="json")
    assert added.status_code == 200, added.content


def test_custom_fields_of_roles_stay_writable_with_the_secret_key(project):
    admin = key_client(project.secret)
    role_id = admin.post("/api/v1/roles", {"name": "team"}, format="json").json()["id"]
    catalog.update_collection(project.project, "roles", {"fields": {"label": {"type": "string"}}})
    response = admin.patch(f"{ROLES}/{role_id}", {"label": "The team"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["label"] == "The team" and response.json()["name"] == "team"


def test_users_and_roles_exist_from_project_creation(project):
    """Visible in the schema (and so the console) before the first sign-up or role."""
    listed = key_client(project.secret).get("/api/v1/schema/collections").json()["results"]
    builtin = {row["name"]: row for row in listed if row["builtin"]}
    assert set(builtin) == {"users", "roles", "installations"}  # installations: basalt.push
    assert {"email", "username", "email_verified", "is_anonymous"} <= set(builtin["users"]["fields"])
    assert builtin["users"]["protected_fields"]["*"] == ["email", "email_verified", "is_anonymous"]
    assert set(builtin["roles"]["fields"]) == {"name", "users", "roles"}
    # Signing up later reuses the collection rather than racing to create another.
    response = key_client(project.publishable).post(
        "/api/v1/auth/signup", {"email": "first@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201
    assert Document.objects.filter(collection__name="users", project=project.project).count() == 1


def test_membership_bodies_refuse_unknown_keys_and_change_nothing(project, signup):
    """Found by contract fuzzing once identity joined the project OpenAPI: the schema says no extra keys."""
    admin = key_client(project.secret)
    member = signup()
    admin.post("/api/v1/roles", {"name": "team"}, format="json")
    admin.post("/api/v1/roles", {"name": "child"}, format="json")
    users = admin.post("/api/v1/roles/team/users", {"ids": [member.id], "acl": {}}, format="json")
    roles = admin.post("/api/v1/roles/team/roles", {"names": ["child"], "extra": 1}, format="json")
    assert users.status_code == roles.status_code == 400
    assert admin.get("/api/v1/roles/team").json()["users"] == []
    assert admin.get("/api/v1/roles/team").json()["roles"] == []
    assert admin.patch("/api/v1/roles/team").status_code == 200  # an empty PATCH changes nothing


def test_resending_current_identity_values_is_a_no_op(project, user):
    """A form or SDK that sends the whole document back may repeat identity fields unchanged."""
    admin = key_client(project.secret)
    declare_user_fields(project.project, {"nickname": {"type": "string"}})
    body = {"email": user.email, "email_verified": False, "is_anonymous": False, "nickname": "kept"}
    response = admin.patch(f"{USERS}/{user.id}", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["nickname"] == "kept" and response.json()["email"] == user.email
    role = admin.post("/api/v1/roles", {"name": "team", "acl": {"*": {"read": True}}}, format="json").json()
    catalog.update_collection(project.project, "roles", {"fields": {"label": {"type": "string"}}})
    same = admin.patch(f"{ROLES}/{role['id']}", {"name": "team", "acl": role["acl"], "label": "L"}, format="json")
    assert same.status_code == 200, same.content


def test_regression_identity_field_guesses_are_not_an_oracle_for_a_writer_who_cannot_read_them(project, signup):
    """A caller given write on someone's user document still cannot test a guess of their email."""
    victim, attacker = signup(), signup()
    _open_users_update(project)
    acl = {"*": {"read": True}, victim.id: {"read": True, "write": True}, attacker.id: {"write": True}}
    assert key_client(project.secret).patch(f"{USERS}/{victim.id}", {"acl": acl}, format="json").status_code == 200
    right = attacker.client.patch(f"{USERS}/{victim.id}", {"email": victim.email}, format="json")
    wrong = attacker.client.patch(f"{USERS}/{victim.id}", {"email": "nope@example.com"}, format="json")
    assert right.status_code == wrong.status_code == 400
    assert right.json() == wrong.json()
    assert attacker.client.patch(f"{USERS}/{victim.id}", {"nickname": "x"}, format="json").status_code == 200


def test_console_edits_custom_user_fields_but_not_identity_fields(project, user, client):
    """The console face goes through the same service: its full-document form round-trips."""
    from django.urls import reverse

    declare_user_fields(project.project, {"nickname": {"type": "string"}})
    client.force_login(project.owner, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("console:document", args=[project.project.ref, "users", user.id])
    assert client.get(url).status_code == 200
    form = {"email": user.email, "email_verified": "false", "is_anonymous": "false", "nickname": "from console"}
    saved = client.post(url, form)
    assert saved.status_code == 302, saved.content[:2000]
    assert Document.objects.get(pk=user.id).data["nickname"] == "from console"
    forged = client.post(url, {**form, "email_verified": "true"})
    assert forged.status_code == 400 and b"/api/v1/auth/" in forged.content
    assert EndUser.objects.get(pk=user.id).email_verified is False
    assert client.post(reverse("console:document_new", args=[project.project.ref, "users"]), form).status_code == 403

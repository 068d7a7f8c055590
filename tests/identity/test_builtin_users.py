"""The built-in `users` collection: mirrored end-users behind the documents decision point."""

from __future__ import annotations

import json

import pytest

from basalt.documents.models import ChangeLogEntry, Document
from basalt.identity import services

from .conftest import PASSWORD, PROFILE_PERMISSIONS, declare_user_fields, key_client

FIND = "/api/v1/collections/users/documents"


def _find(client, where=None, **params):
    query = {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in params.items()}
    if where is not None:
        query["where"] = json.dumps(where)
    return client.get(FIND, query)


def test_signup_creates_the_users_document_with_a_change_log_entry(project, user):
    doc = Document.objects.get(pk=user.id)
    assert doc.data["email"] == user.email and "password" not in json.dumps(doc.data)
    assert ChangeLogEntry.objects.filter(collection="users", document_id=user.id, type="create").exists()


def test_other_users_see_profiles_but_never_emails(project, signup):
    alice, bob = signup(username="alice"), signup(username="bobby")
    response = _find(bob.client)
    assert response.status_code == 200, response.content
    rows = {row["id"]: row for row in response.json()["results"]}
    assert rows[alice.id]["username"] == "alice"
    others = [row for row_id, row in rows.items() if row_id != bob.id]
    assert others and all("email" not in row and "email_verified" not in row for row in others)
    assert rows[bob.id]["email"] == bob.email  # protected fields exempt the user themself
    single = bob.client.get(f"{FIND}/{alice.id}")
    assert single.status_code == 200 and "email" not in single.json()


def test_secret_key_sees_emails(project, user):
    response = _find(key_client(project.secret))
    assert response.json()["results"][0]["email"] == user.email


@pytest.mark.parametrize(
    "where",
    [
        {"email": "x@example.com"},
        {"email": {"$regex": "^a"}},
        {"$or": [{"username": "x"}, {"email": {"$exists": True}}]},
        {"$and": [{"$nor": [{"email": {"$gt": "m"}}]}]},
        {"email_verified": True},
    ],
)
def test_protected_user_fields_cannot_be_probed(project, signup, where):
    """T3 on `users`: filtering on a protected field is refused, not silently answered."""
    signup(), signup()
    probe = signup()
    response = _find(probe.client, where)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_query"


def test_protected_user_fields_cannot_be_sorted_or_selected(project, user):
    assert _find(user.client, order="email").status_code == 400
    selected = _find(user.client, fields="email,username")
    assert selected.status_code == 400 or all(
        "email" not in row for row in selected.json()["results"] if row["id"] != user.id
    )


def test_users_collection_needs_a_signed_in_user(project, user):
    response = _find(key_client(project.publishable))
    assert response.status_code == 403


def test_users_documents_cannot_be_written_through_the_documents_api(project, user):
    """Mass assignment through the back door: email_verified, email or a new user via /collections."""
    patch = user.client.patch(f"{FIND}/{user.id}", {"email_verified": True}, format="json")
    assert patch.status_code in (403, 404)
    create = user.client.post(FIND, {"email": "forged@example.com"}, format="json")
    assert create.status_code == 403
    delete = user.client.delete(f"{FIND}/{user.id}")
    assert delete.status_code in (403, 404)
    assert Document.objects.get(pk=user.id).data.get("email_verified") is False


def test_profile_changes_and_deletion_are_mirrored(project, user, profile_fields):
    user.client.patch("/api/v1/auth/me", {"username": "renamed", "nickname": "nick"}, format="json")
    doc = Document.objects.get(pk=user.id)
    assert doc.data["username"] == "renamed" and doc.data["nickname"] == "nick"
    services.delete_user(project.project, user.id)
    assert not Document.objects.filter(pk=user.id).exists()
    assert ChangeLogEntry.objects.filter(collection="users", document_id=user.id, type="delete").exists()


def test_custom_fields_follow_the_users_schema(project):
    declare_user_fields(
        project.project,
        {"age": {"type": "number", "min": 0}, "team": {"type": "string", "required": True}},
        permissions=PROFILE_PERMISSIONS,
    )
    client = key_client(project.publishable)

    def signup(**extra):
        return client.post(
            "/api/v1/auth/signup", {"email": "s@example.com", "password": PASSWORD, **extra}, format="json"
        )

    assert signup(team="red", color="blue").status_code == 400  # undeclared
    assert signup(team="red", age="old").status_code == 400  # wrong type
    assert signup(team="red", age=-1).status_code == 400  # below min
    assert signup(age=3).status_code == 400  # required missing
    ok = signup(team="red", age=3)
    assert ok.status_code == 201, ok.content
    assert ok.json()["user"]["team"] == "red"


def test_builtin_user_fields_cannot_be_removed_from_the_schema(project, user):
    response = key_client(project.secret).patch(
        "/api/v1/schema/collections/users", {"fields": {"email": None}}, format="json"
    )
    assert response.status_code == 400


def test_regression_expand_into_users_does_not_leak_protected_fields(project, signup):
    """T6: a system collection reached through a pointer + expand keeps its protected fields hidden."""
    from basalt.documents import catalog

    author, reader = signup(username="writer"), signup()
    catalog.create_collection(
        project.project,
        {
            "name": "posts",
            "fields": {"title": {"type": "string"}, "author": {"type": "pointer", "to": "users"}},
            "permissions": {op: ["authenticated"] for op in ("get", "find", "create")},
            "default_acl": "owner_write_public_read",
        },
    )
    created = author.client.post(
        "/api/v1/collections/posts/documents", {"title": "hello", "author": author.id}, format="json"
    )
    assert created.status_code == 201, created.content
    found = reader.client.get("/api/v1/collections/posts/documents", {"expand": "author"})
    assert found.status_code == 200, found.content
    expanded = found.json()["results"][0]["author"]
    assert expanded["id"] == author.id and expanded["username"] == "writer"
    assert "email" not in expanded and "email_verified" not in expanded
    probe = reader.client.get(
        "/api/v1/collections/posts/documents", {"where": json.dumps({"author.email": author.email})}
    )
    assert probe.status_code == 400


def test_regression_dotted_path_on_protected_user_field_is_refused(project, user):
    response = _find(user.client, {"email.length": {"$gt": 0}})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_query"


def test_secret_key_profile_edit_through_documents_api_survives_later_identity_writes(project, user, profile_fields):
    """Custom fields live in the `users` document, so server-side edits there are not overwritten."""
    admin = key_client(project.secret)
    edited = admin.patch(f"{FIND}/{user.id}", {"nickname": "set-by-server"}, format="json")
    assert edited.status_code == 200, edited.content
    user.client.patch("/api/v1/auth/me", {"bio": "mine"}, format="json")
    me = user.client.get("/api/v1/auth/me").json()
    assert me["nickname"] == "set-by-server" and me["bio"] == "mine"
    assert Document.objects.get(pk=user.id).data["nickname"] == "set-by-server"

"""Built-in rules can be tightened, never opened past safety; a user sees their own email; T3 on roles.

- The schema API refuses loosening `users.email` / `email_verified`, removing or redefining
  identity fields, and deleting the built-in collections (API.md §2).
- Protected fields exempt the owner: the user reads their own `email`; nobody else does, nor
  can anyone filter or sort on it.
- `$related_to` reads the source document's relation: an unreadable source (a private role)
  answers exactly like a non-existent one, so membership and existence do not leak.
"""

from __future__ import annotations

import json

import pytest

from basalt.documents.models import Collection

from .conftest import key_client

SCHEMA = "/api/v1/schema/collections"
USERS = "/api/v1/collections/users/documents"
LOCKED = ["email", "email_verified"]


def _patch_users(project, body):
    return key_client(project.secret).patch(f"{SCHEMA}/users", body, format="json")


@pytest.mark.parametrize(
    "protected",
    [
        {},
        {"*": []},
        {"*": ["email"]},
        {"*": ["email_verified", "is_anonymous"]},
        {"*": LOCKED, "authenticated": []},
        {"*": LOCKED, "role:support": ["email"]},
        {"user:abc": LOCKED},  # no `*` entry: everyone else would see them
    ],
)
def test_regression_users_email_cannot_be_unprotected_through_the_schema_api(project, signup, protected):
    reader, other = signup(), signup()
    before = Collection.objects.get(project=project.project, name="users").protected_fields
    response = _patch_users(project, {"protected_fields": protected})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_failed"
    assert Collection.objects.get(project=project.project, name="users").protected_fields == before
    seen = reader.client.get(f"{USERS}/{other.id}").json()
    assert "email" not in seen and "email_verified" not in seen


def test_users_rules_can_be_tightened(project, signup):
    signup(username="alice")
    reader = signup()
    tighter = {"*": ["email", "email_verified", "is_anonymous", "username"], "role:staff": LOCKED}
    response = _patch_users(project, {"protected_fields": tighter})
    assert response.status_code == 200, response.content
    rows = reader.client.get(USERS).json()["results"]
    assert all("username" not in row for row in rows if row["id"] != reader.id)
    # is_anonymous is not locked: a developer may show who is a guest.
    assert _patch_users(project, {"protected_fields": {"*": LOCKED}}).status_code == 200


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("users", {"email": None}),
        ("users", {"email_verified": None}),
        ("users", {"username": {"type": "string"}}),  # redefined (max_length dropped)
        ("users", {"email": {"type": "string", "max_length": 1000}}),
        ("users", {"password": {"type": "string"}}),  # reserved for identity
        ("roles", {"users": None}),
        ("roles", {"roles": {"type": "relation", "to": "users"}}),
        ("roles", {"name": {"type": "string", "max_length": 5}}),
    ],
)
def test_regression_identity_fields_cannot_be_removed_or_redefined(project, name, fields):
    before = Collection.objects.get(project=project.project, name=name).fields
    response = key_client(project.secret).patch(f"{SCHEMA}/{name}", {"fields": fields}, format="json")
    assert response.status_code == 400, response.content
    assert Collection.objects.get(project=project.project, name=name).fields == before


def test_identical_builtin_definitions_and_custom_fields_are_accepted(project):
    body = {"fields": {"email": {"type": "string", "max_length": 254}, "nickname": {"type": "string"}}}
    response = _patch_users(project, body)
    assert response.status_code == 200, response.content
    assert response.json()["fields"]["email"]["builtin"] is True
    assert _patch_users(project, {"fields": {"nickname": None}}).status_code == 200


@pytest.mark.parametrize("name", ["users", "roles"])
def test_regression_builtin_collections_cannot_be_deleted(project, name):
    response = key_client(project.secret).delete(f"{SCHEMA}/{name}")
    assert response.status_code == 409, response.content
    assert Collection.objects.filter(project=project.project, name=name).exists()


def test_user_sees_their_own_email_everywhere_others_never(project, signup):
    from basalt.documents import catalog

    alice, bob = signup(username="alice"), signup(username="bobby")
    own = alice.client.get(f"{USERS}/{alice.id}")
    assert own.status_code == 200
    assert own.json()["email"] == alice.email and own.json()["email_verified"] is False
    rows = {row["id"]: row for row in alice.client.get(USERS).json()["results"]}
    assert rows[alice.id]["email"] == alice.email
    assert "email" not in rows[bob.id] and "email_verified" not in rows[bob.id]
    assert "email" not in bob.client.get(f"{USERS}/{alice.id}").json()
    # Through a pointer too: one's own profile expanded shows the email, another's does not.
    catalog.create_collection(
        project.project,
        {
            "name": "notes",
            "fields": {"owner": {"type": "pointer", "to": "users"}},
            "permissions": {op: ["authenticated"] for op in ("get", "find", "create")},
            "default_acl": "public",
        },
    )
    for writer in (alice, bob):
        created = writer.client.post("/api/v1/collections/notes/documents", {"owner": writer.id}, format="json")
        assert created.status_code == 201, created.content
    expanded = alice.client.get("/api/v1/collections/notes/documents", {"expand": "owner"}).json()["results"]
    owners = {row["owner"]["id"]: row["owner"] for row in expanded}
    assert owners[alice.id]["email"] == alice.email and "email" not in owners[bob.id]
    # Even the owner may not filter or sort on it: that would test everyone else's value.
    for params in ({"where": json.dumps({"email": alice.email})}, {"order": "email"}):
        assert alice.client.get(USERS, params).status_code == 400


def _members(client, role_id: str, **extra):
    where = {"$related_to": {"collection": "roles", "id": role_id, "field": "users"}}
    return client.get(USERS, {"where": json.dumps(where), "count": "true", **extra})


def test_regression_related_to_does_not_leak_members_of_an_unreadable_role(project, signup):
    """An unreadable role answers exactly like a role that does not exist: same status, rows, count."""
    admin = key_client(project.secret)
    alice, bob, probe = signup(), signup(), signup()
    hidden = admin.post("/api/v1/roles", {"name": "board", "users": [alice.id]}, format="json").json()
    shown = admin.post(
        "/api/v1/roles", {"name": "team", "users": [bob.id], "acl": {"*": {"read": True}}}, format="json"
    ).json()
    unreadable, missing = _members(probe.client, hidden["id"]), _members(probe.client, "zzzzzzzzzzzzzzzzzzzz")
    assert unreadable.status_code == missing.status_code == 200
    assert unreadable.json() == missing.json() == {"results": [], "next_cursor": None, "count": 0}
    negated = {"$nor": [{"$related_to": {"collection": "roles", "id": hidden["id"], "field": "users"}}]}
    negated_missing = {"$nor": [{"$related_to": {"collection": "roles", "id": "zzzz", "field": "users"}}]}
    counts = [
        probe.client.get(USERS, {"where": json.dumps(w), "count": "true"}).json()["count"]
        for w in (negated, negated_missing)
    ]
    assert counts[0] == counts[1] == 3
    # A role the caller may read, and the secret key, still list members.
    assert [row["id"] for row in _members(probe.client, shown["id"]).json()["results"]] == [bob.id]
    assert [row["id"] for row in _members(admin, hidden["id"]).json()["results"]] == [alice.id]
    # Readable by its members: alice sees her own role's members.
    admin.patch("/api/v1/roles/board", {"acl": {"role:board": {"read": True}}}, format="json")
    assert [row["id"] for row in _members(alice.client, hidden["id"]).json()["results"]] == [alice.id]
    assert _members(probe.client, hidden["id"]).json()["count"] == 0

"""The built-in `roles` collection: roles readable per their ACL, membership as relations."""

from __future__ import annotations

import json

from basalt.documents.models import Document, Relation

from .conftest import key_client

ROLES = "/api/v1/collections/roles/documents"
USERS = "/api/v1/collections/users/documents"


def _role(admin, name, **body):
    response = admin.post("/api/v1/roles", {"name": name, **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_roles_are_documents_readable_per_their_acl(project, signup):
    admin = key_client(project.secret)
    user = signup()
    public = _role(admin, "public", acl={"*": {"read": True}})
    _role(admin, "private")
    _role(admin, "mine", acl={user.id: {"read": True}})
    found = user.client.get(ROLES)
    assert found.status_code == 200, found.content
    assert {row["name"] for row in found.json()["results"]} == {"public", "mine"}
    assert user.client.get(f"{ROLES}/{public['id']}").json()["name"] == "public"
    everything = admin.get(ROLES, {"count": "true"}).json()
    assert everything["count"] == 3


def test_role_members_are_queryable_with_related_to(project, signup):
    admin = key_client(project.secret)
    alice, bob, carol = signup(username="alice"), signup(username="bobby"), signup(username="carol")
    team = _role(admin, "team", users=[alice.id, bob.id], acl={"*": {"read": True}})
    where = {"$related_to": {"collection": "roles", "id": team["id"], "field": "users"}}
    response = carol.client.get(USERS, {"where": json.dumps(where)})
    assert response.status_code == 200, response.content
    assert {row["id"] for row in response.json()["results"]} == {alice.id, bob.id}
    admin.delete(f"/api/v1/roles/team/users/{bob.id}")
    response = carol.client.get(USERS, {"where": json.dumps(where)})
    assert {row["id"] for row in response.json()["results"]} == {alice.id}


def test_child_roles_are_relations_and_deletion_cleans_up(project, signup):
    admin = key_client(project.secret)
    parent, child = _role(admin, "parent"), _role(admin, "child")
    admin.post("/api/v1/roles/parent/roles", {"names": ["child"]}, format="json")
    assert Relation.objects.filter(field="roles", from_id=parent["id"], to_id=child["id"]).exists()
    assert admin.delete("/api/v1/roles/child").status_code == 204
    assert not Document.objects.filter(pk=child["id"]).exists()
    assert not Relation.objects.filter(to_id=child["id"]).exists()
    renamed = admin.patch("/api/v1/roles/parent", {"name": "elder"}, format="json").json()
    assert Document.objects.get(pk=renamed["id"]).data == {"name": "elder"}


def test_role_documents_cannot_be_written_through_the_documents_api(project, signup):
    """Role escalation through the back door: the documents API cannot add members or rename."""
    admin = key_client(project.secret)
    user = signup()
    role = _role(admin, "admins", acl={"*": {"read": True}})
    path = f"{ROLES}/{role['id']}"
    attempts = [
        user.client.patch(path, {"users": {"__op": "add_relation", "ids": [user.id]}}, format="json"),
        user.client.patch(path, {"name": "owned"}, format="json"),
        user.client.post(ROLES, {"name": "admins2", "users": [user.id]}, format="json"),
        user.client.delete(path),
    ]
    assert all(r.status_code in (403, 404) for r in attempts), [r.status_code for r in attempts]
    assert not Relation.objects.filter(field="users", to_id=user.id).exists()
    assert "role:admins" not in _principals(project, user)


def _principals(project, user):
    from basalt.projects.caller import resolve_caller

    class Req:
        META = {"HTTP_X_API_KEY": project.publishable, "HTTP_AUTHORIZATION": f"Bearer {user.access}"}

    return resolve_caller(Req()).principals


def test_deleted_user_leaves_role_relations(project, signup):
    from basalt.identity import services

    admin = key_client(project.secret)
    user = signup()
    _role(admin, "team", users=[user.id])
    services.delete_user(project.project, user.id)
    assert not Relation.objects.filter(field="users", to_id=user.id).exists()

"""T3/T6: `$related_to` answers only from a source document the caller may read.

The source must pass the same checks as a GET of it: the collection's `get` (or `find`)
permission, pointer grants, the document's ACL, and the relation field not protected from
the caller. Otherwise the clause matches nothing, exactly as for a document that does not exist.
"""

from __future__ import annotations

import json

import pytest

from .conftest import key_client

pytestmark = pytest.mark.django_db
PEOPLE = "/api/v1/collections/people/documents"
MISSING = "zzzzzzzzzzzzzzzzzzzz"


@pytest.fixture
def world(project, make_collection):
    """`people` open to all; `groups` (rules set per test) whose `members` relation lists people."""
    everyone = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}
    make_collection(
        {"name": "people", "fields": {"n": {"type": "number"}}, "permissions": everyone, "default_acl": "public"}
    )
    make_collection(
        {
            "name": "groups",
            "fields": {"members": {"type": "relation", "to": "people"}, "owner": {"type": "pointer", "to": "users"}},
        }
    )
    admin = key_client(project.secret)
    people = [admin.post(PEOPLE, {"n": n}, format="json").json()["id"] for n in range(3)]
    return admin, people


def _group(admin, members, acl, **data):
    body = {"members": {"__op": "add_relation", "ids": members}, "acl": acl, **data}
    response = admin.post("/api/v1/collections/groups/documents", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _rules(admin, **body):
    response = admin.patch("/api/v1/schema/collections/groups", body, format="json")
    assert response.status_code == 200, response.content


def _members(client, group_id: str) -> dict:
    where = {"$related_to": {"collection": "groups", "id": group_id, "field": "members"}}
    response = client.get(PEOPLE, {"where": json.dumps(where), "count": "true"})
    assert response.status_code == 200, response.content
    body = response.json()
    return {"ids": sorted(row["id"] for row in body["results"]), "count": body["count"]}


NOTHING = {"ids": [], "count": 0}


def test_regression_locked_source_collection_reveals_no_edges(project, world):
    admin, people = world
    group = _group(admin, people[:2], {"*": {"read": True}})
    anonymous = key_client(project.publishable)
    assert _members(anonymous, group) == _members(anonymous, MISSING) == NOTHING
    assert _members(admin, group) == {"ids": sorted(people[:2]), "count": 2}
    _rules(admin, permissions={"find": ["*"]})
    assert _members(anonymous, group)["count"] == 2


def test_regression_unreadable_source_document_reveals_no_edges(project, world):
    admin, people = world
    _rules(admin, permissions={"get": ["*"]})
    private = _group(admin, people[:2], {})
    public = _group(admin, people[1:], {"*": {"read": True}})
    anonymous = key_client(project.publishable)
    assert _members(anonymous, private) == NOTHING
    assert _members(anonymous, public) == {"ids": sorted(people[1:]), "count": 2}
    # Under $nor the unreadable source behaves like a missing one too: no count oracle.
    for group in (private, MISSING):
        where = {"$nor": [{"$related_to": {"collection": "groups", "id": group, "field": "members"}}]}
        assert anonymous.get(PEOPLE, {"where": json.dumps(where), "count": "true"}).json()["count"] == 3


def test_regression_protected_relation_field_cannot_be_probed(project, world):
    admin, people = world
    _rules(admin, permissions={"get": ["*"]}, protected_fields={"*": ["members"]})
    group = _group(admin, people, {"*": {"read": True}})
    assert _members(key_client(project.publishable), group) == NOTHING
    assert _members(admin, group)["count"] == 3


def test_pointer_grant_on_the_source_needs_the_pointer_to_name_the_caller(project, world):
    admin, people = world
    signup = key_client(project.publishable).post(
        "/api/v1/auth/signup", {"email": "owner@example.com", "password": "Tr0ub4dor&3-horse"}, format="json"
    )
    other = key_client(project.publishable).post(
        "/api/v1/auth/signup", {"email": "other@example.com", "password": "Tr0ub4dor&3-horse"}, format="json"
    )
    owner_id = signup.json()["user"]["id"]
    _rules(admin, permissions={"get": ["pointer:owner"]})
    group = _group(admin, people[:1], {"*": {"read": True}}, owner=owner_id)

    def as_user(body):
        client = key_client(project.publishable)
        client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        return client

    assert _members(as_user(signup.json()), group) == {"ids": people[:1], "count": 1}
    assert _members(as_user(other.json()), group) == NOTHING

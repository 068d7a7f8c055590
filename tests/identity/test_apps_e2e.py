"""Issue 4's closing condition, over HTTP only: two apps built with no server code.

(a) private notes: each signed-in user sees and changes only their own notes;
(b) shared with a role: documents readable and writable by the members of `team`, and leaving
    the role takes effect on the very next request.
Every call goes through the public API with the keys and tokens an app would hold.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
EVERY_OP = ("get", "find", "count", "create", "update", "delete")


def _client(key: str, token: str | None = None) -> APIClient:
    client = APIClient()
    headers = {"HTTP_X_API_KEY": key}
    if token:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.credentials(**headers)
    return client


def _sign_up(project, email: str) -> tuple[str, APIClient]:
    response = _client(project.publishable).post(
        "/api/v1/auth/signup", {"email": email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    return body["user"]["id"], _client(project.publishable, body["access_token"])


def _define(project, definition: dict) -> None:
    response = _client(project.secret).post("/api/v1/schema/collections", definition, format="json")
    assert response.status_code == 201, response.content


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _count(client, url: str) -> int:
    response = client.get(url, {"count": "true", "limit": "0"})
    assert response.status_code == 200, response.content
    return response.json()["count"]


def test_private_notes_app(project):
    _define(
        project,
        {
            "name": "notes",
            "fields": {"title": {"type": "string", "required": True}, "body": {"type": "string"}},
            "permissions": {op: ["authenticated"] for op in EVERY_OP},
            "default_acl": "owner",
        },
    )
    url = "/api/v1/collections/notes/documents"
    alice_id, alice = _sign_up(project, "alice@example.com")
    bob_id, bob = _sign_up(project, "bob@example.com")
    notes: dict[str, set[str]] = {alice_id: set(), bob_id: set()}
    for owner_id, client in ((alice_id, alice), (bob_id, bob)):
        for n in range(3 if owner_id == alice_id else 2):
            created = client.post(url, {"title": f"note {n}", "body": "private"}, format="json")
            assert created.status_code == 201, created.content
            assert created.json()["acl"] == {owner_id: {"read": True, "write": True}}
            notes[owner_id].add(created.json()["id"])

    for owner_id, client in ((alice_id, alice), (bob_id, bob)):
        assert _ids(client.get(url)) == notes[owner_id]
        assert _count(client, url) == len(notes[owner_id])
        query = client.post("/api/v1/collections/notes/query", {"where": {"body": "private"}}, format="json")
        assert _ids(query) == notes[owner_id]
        for note_id in notes[owner_id]:
            assert client.get(f"{url}/{note_id}").status_code == 200

    bobs_note = sorted(notes[bob_id])[0]
    before = bob.get(f"{url}/{bobs_note}").json()
    for response in (
        alice.get(f"{url}/{bobs_note}"),
        alice.patch(f"{url}/{bobs_note}", {"title": "mine now"}, format="json"),
        alice.patch(f"{url}/{bobs_note}", {"acl": {alice_id: {"read": True, "write": True}}}, format="json"),
        alice.delete(f"{url}/{bobs_note}"),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    batch = alice.post(
        "/api/v1/batch", {"requests": [{"method": "DELETE", "path": f"{url}/{bobs_note}"}]}, format="json"
    )
    assert batch.json()["results"][0]["status"] == 404
    assert bob.get(f"{url}/{bobs_note}").json() == before
    # Without a signed-in user the app's key alone reads nothing.
    assert _client(project.publishable).get(url).status_code == 403
    # The owner still edits and deletes their own.
    assert bob.patch(f"{url}/{bobs_note}", {"title": "edited"}, format="json").status_code == 200
    assert bob.delete(f"{url}/{bobs_note}").status_code == 204
    assert _count(bob, url) == len(notes[bob_id]) - 1


def test_shared_with_role_app(project):
    admin = _client(project.secret)
    alice_id, alice = _sign_up(project, "alice@example.com")
    _, bob = _sign_up(project, "bob@example.com")
    role = admin.post("/api/v1/roles", {"name": "team", "users": [alice_id]}, format="json")
    assert role.status_code == 201, role.content
    _define(
        project,
        {
            "name": "docs",
            "fields": {"title": {"type": "string"}, "text": {"type": "string"}},
            "permissions": {op: ["authenticated"] for op in EVERY_OP},
            "default_acl": "owner",
        },
    )
    url = "/api/v1/collections/docs/documents"
    shared_acl = {"role:team": {"read": True, "write": True}}
    created = admin.post(url, {"title": "plan", "text": "v1", "acl": shared_acl}, format="json")
    assert created.status_code == 201, created.content
    doc_id = created.json()["id"]

    assert alice.get(f"{url}/{doc_id}").status_code == 200
    assert _ids(alice.get(url, {"where": json.dumps({"title": "plan"})})) == {doc_id}
    edited = alice.patch(f"{url}/{doc_id}", {"text": "v2"}, format="json")
    assert edited.status_code == 200 and edited.json()["text"] == "v2"
    # A member shares a document of their own with the team the same way.
    own = alice.post(url, {"title": "notes", "acl": shared_acl}, format="json")
    assert own.status_code == 201, own.content

    for response in (
        bob.get(f"{url}/{doc_id}"),
        bob.patch(f"{url}/{doc_id}", {"text": "hacked"}, format="json"),
        bob.delete(f"{url}/{doc_id}"),
    ):
        assert response.status_code == 404, response.content
    assert _ids(bob.get(url)) == set() and _count(bob, url) == 0
    assert admin.get(f"{url}/{doc_id}").json()["text"] == "v2"

    removed = admin.delete(f"/api/v1/roles/team/users/{alice_id}")
    assert removed.status_code == 204, removed.content
    # The very next request with the same, still unexpired access token.
    assert alice.get(f"{url}/{doc_id}").status_code == 404
    assert alice.patch(f"{url}/{doc_id}", {"text": "v3"}, format="json").status_code == 404
    assert _ids(alice.get(url)) == set()
    assert admin.get(f"{url}/{doc_id}").json()["text"] == "v2"

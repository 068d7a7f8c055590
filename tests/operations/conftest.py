"""Project export / import fixtures: a project with every kind of data, and its API answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import body_of, console_client_for

PASSWORD = "an old passphrase 42"
POSTS = {
    "name": "posts",
    "fields": {
        "title": {"type": "string", "max_length": 200},
        "score": {"type": "number", "default": 0},
        "tags": {"type": "array", "items": "string"},
        "author": {"type": "pointer", "to": "users"},
        "cover": {"type": "file"},
        "related": {"type": "relation", "to": "posts"},
    },
    "indexes": [{"fields": ["score"]}],
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
    "default_acl": "owner",
}


def key_client(key: str, token: str | None = None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_X_API_KEY=key, HTTP_AUTHORIZATION=f"Bearer {token}")
    else:
        client.credentials(HTTP_X_API_KEY=key)
    return client


@pytest.fixture(autouse=True)
def archive_storage(settings, tmp_path, eager_tasks):
    """Files and archives in a folder of this test (both passes); transfers run inline."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        },
    }
    from basalt.files.storage import get_storage

    return get_storage()


@dataclass
class Seeded:
    keys: Any
    console: APIClient
    users: dict[str, str] = field(default_factory=dict)  # email → id
    files: dict[str, bytes] = field(default_factory=dict)  # id → bytes
    posts: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.keys.project.ref

    @property
    def base(self) -> str:
        return f"/api/v1/manage/projects/{self.ref}"


def seed_project(keys, n_posts: int = 12) -> Seeded:
    """Schema, users with passwords, roles, documents with ACLs, pointers, relations, a file, a device, settings."""
    console = console_client_for(keys.owner)
    seeded = Seeded(keys=keys, console=console)
    base = seeded.base
    assert console.post(f"{base}/collections", POSTS, format="json").status_code == 201
    answer = console.patch(f"{base}/settings", {"cors_origins": ["https://app.example.com"]}, format="json")
    assert answer.status_code == 200, answer.content
    sk = key_client(keys.secret)
    pk = key_client(keys.publishable)
    tokens = {}
    for email in ("ada@example.com", "bob@example.com", "cy@example.com"):
        answer = pk.post("/api/v1/auth/signup", {"email": email, "password": PASSWORD}, format="json")
        assert answer.status_code == 201, answer.content
        seeded.users[email] = answer.json()["user"]["id"]
        tokens[email] = answer.json()["access_token"]
    ada, bob = seeded.users["ada@example.com"], seeded.users["bob@example.com"]
    assert sk.post("/api/v1/roles", {"name": "editors", "users": [ada]}, format="json").status_code == 201
    assert sk.post("/api/v1/roles", {"name": "chiefs", "users": [bob]}, format="json").status_code == 201
    assert sk.post("/api/v1/roles/editors/roles", {"names": ["chiefs"]}, format="json").status_code in (200, 201)
    payload = bytes(range(256)) * 40 + b"end"
    answer = key_client(keys.publishable, tokens["ada@example.com"]).generic(
        "POST", "/api/v1/files?name=cover.bin", payload, content_type="application/octet-stream"
    )
    assert answer.status_code == 201, answer.content
    file_id = answer.json()["id"]
    seeded.files[file_id] = payload
    ada_client = key_client(keys.publishable, tokens["ada@example.com"])
    for i in range(n_posts):
        body: dict[str, Any] = {"title": f"post {i}", "score": i % 5, "tags": [f"t{i % 3}"], "author": ada}
        if i == 0:
            body["cover"] = file_id
        if i % 3 == 0:
            answer = ada_client.post("/api/v1/collections/posts/documents", body, format="json")  # owner ACL
        elif i % 3 == 1:
            body["acl"] = {"role:editors": {"read": True, "write": True}}
            answer = sk.post("/api/v1/collections/posts/documents", body, format="json")
        else:
            body["acl"] = {"*": {"read": True}}
            answer = sk.post("/api/v1/collections/posts/documents", body, format="json")
        assert answer.status_code == 201, answer.content
        seeded.posts.append(answer.json()["id"])
    answer = sk.patch(
        f"/api/v1/collections/posts/documents/{seeded.posts[1]}",
        {"related": {"__op": "add_relation", "ids": seeded.posts[2:4]}},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    device = key_client(keys.publishable, tokens["bob@example.com"])
    answer = device.post(
        "/api/v1/installations", {"platform": "android", "provider": "fcm", "token": "f" * 40}, format="json"
    )
    assert answer.status_code in (200, 201), answer.content
    return seeded


def sign_in(key: str, email: str, password: str = PASSWORD) -> str:
    answer = key_client(key).post("/api/v1/auth/login", {"email": email, "password": password}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()["access_token"]


QUERIES = [
    {"order": "created_at"},
    {"order": "-score,created_at", "limit": "5"},
    {"where": json.dumps({"score": {"$gte": 2}}), "order": "created_at"},
    {"where": json.dumps({"tags": "t1"}), "order": "created_at", "count": "true"},
]


def ok(answer) -> Any:
    assert answer.status_code == 200, answer.content
    return answer.json()


def pages(client, query: dict[str, str]) -> list[Any]:
    """Every page of a find, following `next_cursor` (cursors are opaque and sealed per project)."""
    out = []
    query = dict(query)
    while True:
        page = ok(client.get("/api/v1/collections/posts/documents", query))
        cursor = page.pop("next_cursor", None)
        out.append(page)
        if not cursor:
            return out
        query["cursor"] = cursor


def answers(keys, users: list[str], file_ids: list[str], related_from: str = "") -> dict[str, Any]:
    """Every API answer the round trip must preserve, keyed by what was asked."""
    out: dict[str, Any] = {}
    sk = key_client(keys.secret)
    pk = key_client(keys.publishable)
    for i, query in enumerate(QUERIES):
        out[f"sk.find.{i}"] = pages(sk, query)
        out[f"pk.find.{i}"] = pages(pk, query)
    out["users"] = sk.get("/api/v1/collections/users/documents", {"order": "created_at"}).json()
    out["roles"] = sk.get("/api/v1/collections/roles/documents", {"order": "name"}).json()
    out["installations"] = sk.get("/api/v1/installations").json()
    if related_from:
        where = {"$related_to": {"collection": "posts", "id": related_from, "field": "related"}}
        out["related"] = sk.get("/api/v1/collections/posts/documents", {"where": json.dumps(where)}).json()
    for email in users:
        token = sign_in(keys.publishable, email)
        me = key_client(keys.publishable, token)
        out[f"{email}.me"] = me.get("/api/v1/auth/me").json()
        for i, query in enumerate(QUERIES):
            out[f"{email}.find.{i}"] = pages(me, query)
        for file_id in file_ids:
            answer = me.get(f"/api/v1/files/{file_id}/content")
            out[f"{email}.file.{file_id}"] = (
                answer.status_code,
                body_of(answer) if answer.status_code == 200 else None,
            )
    return out

"""`file` fields of documents: {id, name, url, content_type, size} to readers of the file, the id otherwise."""

from __future__ import annotations

import pytest

from tests.files.conftest import upload

pytestmark = pytest.mark.django_db
OPEN = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}


@pytest.fixture
def posts(secret_client):
    answer = secret_client.post(
        "/api/v1/schema/collections",
        {
            "name": "posts",
            "fields": {"title": {"type": "string"}, "cover": {"type": "file"}},
            "permissions": OPEN,
            "default_acl": "public",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content


def test_file_field_renders_metadata_to_readers_and_id_to_others(posts, user_of):
    alice, _ = user_of("alice@example.com")
    bob, _ = user_of("bob@example.com")
    stored = upload(alice, b"cover bytes", name="cover.txt", content_type="text/plain").json()
    created = alice.post("/api/v1/collections/posts/documents", {"title": "t", "cover": stored["id"]}, format="json")
    assert created.status_code == 201, created.content
    expected = {k: stored[k] for k in ("id", "name", "url", "content_type", "size")}
    assert created.json()["cover"] == expected
    doc_id = created.json()["id"]
    assert alice.get(f"/api/v1/collections/posts/documents/{doc_id}").json()["cover"] == expected
    assert alice.get("/api/v1/collections/posts/documents").json()["results"][0]["cover"] == expected
    # bob may read the document but not the file (owner ACL): the id alone, no name or size
    assert bob.get(f"/api/v1/collections/posts/documents/{doc_id}").json()["cover"] == stored["id"]
    assert bob.get("/api/v1/collections/posts/documents").json()["results"][0]["cover"] == stored["id"]


def test_another_projects_file_id_renders_as_the_id(posts, secret_client, make_project):
    from rest_framework.test import APIClient

    other = make_project("Other")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=other.secret)
    foreign = upload(client, b"theirs", name="theirs.txt").json()
    created = secret_client.post("/api/v1/collections/posts/documents", {"cover": foreign["id"]}, format="json")
    assert created.json()["cover"] == foreign["id"]


def test_find_renders_file_fields_in_one_query(posts, secret_client, django_assert_max_num_queries):
    for index in range(20):
        stored = upload(secret_client, f"f{index}".encode(), name=f"{index}.txt").json()
        secret_client.post("/api/v1/collections/posts/documents", {"cover": stored["id"]}, format="json")
    with django_assert_max_num_queries(6):
        results = secret_client.get("/api/v1/collections/posts/documents?limit=100").json()["results"]
    assert len(results) == 20 and all(isinstance(doc["cover"], dict) for doc in results)


def test_project_openapi_describes_both_renders(posts, secret_client):
    spec = secret_client.get("/api/v1/openapi.json").json()
    cover = spec["components"]["schemas"]
    found = [schema["properties"]["cover"] for schema in cover.values() if "cover" in schema.get("properties", {})]
    read = next(c for c in found if "anyOf" in c)
    shapes = {variant.get("type") for variant in read["anyOf"]}
    assert shapes == {"string", "object"}
    obj = next(v for v in read["anyOf"] if v.get("type") == "object")
    assert set(obj["required"]) == {"id", "name", "url", "content_type", "size"}

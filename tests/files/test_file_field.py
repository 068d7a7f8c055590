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


def _refused(answer, field="cover"):
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "validation_failed" and field in error["details"], error
    return error


def test_another_projects_file_id_is_refused_at_write(posts, secret_client, make_project):
    """A file id of another project is a 400 naming the field, and nothing is written."""
    from rest_framework.test import APIClient

    other = make_project("Other")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=other.secret)
    foreign = upload(client, b"theirs", name="theirs.txt").json()
    _refused(secret_client.post("/api/v1/collections/posts/documents", {"cover": foreign["id"]}, format="json"))
    assert secret_client.get("/api/v1/collections/posts/documents").json()["results"] == []


@pytest.mark.parametrize("value", ["nosuchfile0000000000", {"id": "nosuchfile0000000000"}, "a" * 64])
def test_unknown_file_id_is_refused_on_create(posts, secret_client, value):
    _refused(secret_client.post("/api/v1/collections/posts/documents", {"cover": value}, format="json"))


def test_deleted_or_pending_file_is_refused(posts, secret_client):
    gone = upload(secret_client, b"soon gone", name="g.txt").json()["id"]
    assert secret_client.delete(f"/api/v1/files/{gone}").status_code == 204
    _refused(secret_client.post("/api/v1/collections/posts/documents", {"cover": gone}, format="json"))
    # A direct upload not completed yet is not a file anyone may reference.
    ticket = secret_client.post(
        "/api/v1/files/uploads", {"name": "p.txt", "content_type": "text/plain", "size": 4}, format="json"
    ).json()
    _refused(secret_client.post("/api/v1/collections/posts/documents", {"cover": ticket["file_id"]}, format="json"))


def test_update_checks_only_the_references_it_changes(posts, secret_client):
    kept = upload(secret_client, b"kept", name="k.txt").json()["id"]
    doc = secret_client.post("/api/v1/collections/posts/documents", {"cover": kept}, format="json").json()
    path = f"/api/v1/collections/posts/documents/{doc['id']}"
    _refused(secret_client.patch(path, {"cover": "nosuchfile0000000000"}, format="json"))
    assert secret_client.get(path).json()["cover"]["id"] == kept  # unchanged
    # The file is deleted; a write that leaves `cover` as it is still works (the id reads alone).
    assert secret_client.delete(f"/api/v1/files/{kept}").status_code == 204
    again = secret_client.patch(path, {"title": "still", "cover": kept}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["cover"] == kept
    assert secret_client.patch(path, {"cover": None}, format="json").status_code == 200


def test_batch_sub_requests_are_checked_too(posts, secret_client):
    good = upload(secret_client, b"good", name="good.txt").json()["id"]
    requests = [
        {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"cover": good}},
        {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"cover": "nosuchfile0000000000"}},
    ]
    loose = secret_client.post("/api/v1/batch", {"requests": requests}, format="json")
    assert loose.status_code == 200, loose.content
    statuses = [result["status"] for result in loose.json()["results"]]
    assert statuses == [201, 400]
    assert "cover" in loose.json()["results"][1]["body"]["error"]["details"]
    atomic = secret_client.post("/api/v1/batch", {"transaction": True, "requests": requests}, format="json")
    error = _refused(atomic)
    assert error["details"]["index"] == 1
    assert len(secret_client.get("/api/v1/collections/posts/documents").json()["results"]) == 1


def test_arrays_of_files_are_checked(secret_client):
    answer = secret_client.post(
        "/api/v1/schema/collections",
        {"name": "albums", "fields": {"photos": {"type": "array", "items": "file"}}},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    good = upload(secret_client, b"one", name="1.txt").json()["id"]
    made = secret_client.post("/api/v1/collections/albums/documents", {"photos": [good]}, format="json")
    assert made.status_code == 201, made.content
    _refused(
        secret_client.post(
            "/api/v1/collections/albums/documents", {"photos": [good, "nosuchfile0000000000"]}, format="json"
        ),
        "photos",
    )


def test_a_caller_without_create_permission_gets_403_not_the_reference_check(secret_client, publishable_client):
    secret_client.post(
        "/api/v1/schema/collections",
        {"name": "locked", "fields": {"cover": {"type": "file"}}, "permissions": {"create": []}},
        format="json",
    )
    answer = publishable_client.post(
        "/api/v1/collections/locked/documents", {"cover": "nosuchfile0000000000"}, format="json"
    )
    assert answer.status_code == 403, answer.content


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

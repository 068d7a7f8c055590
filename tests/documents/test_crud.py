"""Documents CRUD (API.md §3): shapes, ETags, update operators, validation and hostile input."""

from __future__ import annotations

import re

import pytest

from tests.documents.conftest import key_client

DOCS = "/api/v1/collections/posts/documents"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def _new(client, body=None):
    response = client.post(DOCS, body or {"title": "hello"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_create_returns_document_location_and_etag(pk, project):
    from basalt.files.models import File

    # A ready file nobody but the secret key may read (a `file` field must name one of the project's).
    File.objects.create(id="f123", project=project.project, name="c.txt", content_type="text/plain", storage_key="k")
    response = pk.post(
        DOCS,
        {
            "title": "hi",
            "tags": ["a", "b"],
            "due": "2026-11-21T11:00:00+01:00",
            "place": {"lat": 48.85, "lng": 2.35},
            "cover": "f123",
            "meta": {"color": "red"},
            "kind": "note",
            "published": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    doc = response.json()
    assert re.match(r"^[a-z0-9]{20}$", doc["id"])
    assert response["Location"] == f"{DOCS}/{doc['id']}"
    assert response["ETag"] == '"1"'
    assert TIME.match(doc["created_at"]) and TIME.match(doc["updated_at"])
    assert doc["due"] == "2026-11-21T10:00:00.000Z"
    assert doc["score"] == 0  # default
    assert doc["cover"] == "f123"  # unreadable to this caller: the id alone (tests/files/test_file_field.py)
    assert doc["acl"] == {"*": {"read": True, "write": True}}
    assert pk.get(f"{DOCS}/{doc['id']}").json() == doc


@pytest.mark.django_db
def test_get_etag_and_if_none_match(pk):
    doc = _new(pk)
    first = pk.get(f"{DOCS}/{doc['id']}")
    assert first["ETag"] == '"1"'
    cached = pk.get(f"{DOCS}/{doc['id']}", HTTP_IF_NONE_MATCH='"1"')
    assert cached.status_code == 304 and cached.content == b""
    pk.patch(f"{DOCS}/{doc['id']}", {"title": "new"}, format="json")
    fresh = pk.get(f"{DOCS}/{doc['id']}", HTTP_IF_NONE_MATCH='"1"')
    assert fresh.status_code == 200 and fresh["ETag"] == '"2"' and fresh.json()["title"] == "new"


@pytest.mark.django_db
def test_if_match_guards_updates_and_deletes(pk):
    doc = _new(pk)
    url = f"{DOCS}/{doc['id']}"
    _error(pk.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH='"7"'), 412, "precondition_failed")
    _error(pk.delete(url, HTTP_IF_MATCH='"7"'), 412, "precondition_failed")
    assert pk.get(url).json()["title"] == "hello"
    ok = pk.patch(url, {"title": "x"}, format="json", HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200 and ok["ETag"] == '"2"'
    assert pk.delete(url, HTTP_IF_MATCH='"2"').status_code == 204
    _error(pk.get(url), 404, "not_found")


@pytest.mark.django_db
def test_fields_selection_on_get(pk):
    doc = _new(pk, {"title": "t", "score": 3, "tags": ["x"]})
    got = pk.get(f"{DOCS}/{doc['id']}", {"fields": "score"}).json()
    assert got["score"] == 3 and "title" not in got and "tags" not in got and got["id"] == doc["id"]


@pytest.mark.django_db
def test_update_operations(pk):
    doc = _new(pk, {"title": "t", "tags": ["a"]})
    url = f"{DOCS}/{doc['id']}"

    def patch(body):
        response = pk.patch(url, body, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    assert patch({"score": {"__op": "increment", "by": 5}})["score"] == 5
    assert patch({"score": {"__op": "increment", "by": -1.5}})["score"] == 3.5
    assert patch({"tags": {"__op": "add", "items": ["a", "b"]}})["tags"] == ["a", "a", "b"]
    assert patch({"tags": {"__op": "add_unique", "items": ["b", "c", "c"]}})["tags"] == ["a", "a", "b", "c"]
    assert patch({"tags": {"__op": "remove", "items": ["a", "zz"]}})["tags"] == ["b", "c"]
    out = patch({"tags": {"__op": "unset"}, "kind": "link"})
    assert "tags" not in out and out["kind"] == "link"
    assert patch({"kind": None}).get("kind") is None
    # a fresh field: increment starts from 0 even when absent
    assert patch({"score": {"__op": "unset"}}).get("score") is None
    assert patch({"score": {"__op": "increment", "by": 2}})["score"] == 2
    assert pk.get(url).json()["score"] == 2


@pytest.mark.django_db
def test_relations_are_written_as_edges(project, secret_client):
    from basalt.documents.models import Relation

    secret_client.post("/api/v1/schema/collections", {"name": "users_ext"}, format="json")
    secret_client.post(
        "/api/v1/schema/collections",
        {"name": "notes", "fields": {"likes": {"type": "relation", "to": "notes"}}},
        format="json",
    )
    note = secret_client.post("/api/v1/collections/notes/documents", {"likes": ["aaa", "bbb"]}, format="json").json()
    assert "likes" not in note
    url = f"/api/v1/collections/notes/documents/{note['id']}"
    assert set(Relation.objects.values_list("to_id", flat=True)) == {"aaa", "bbb"}
    r = secret_client.patch(url, {"likes": {"__op": "add_relation", "ids": ["ccc", "aaa"]}}, format="json")
    assert r.status_code == 200, r.content
    secret_client.patch(url, {"likes": {"__op": "remove_relation", "ids": ["bbb"]}}, format="json")
    assert set(Relation.objects.values_list("to_id", flat=True)) == {"aaa", "ccc"}
    _error(secret_client.patch(url, {"likes": ["x"]}, format="json"), 400, "validation_failed")
    assert secret_client.delete(url).status_code == 204
    assert not Relation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"score": {"__op": "increment", "by": "1"}},
        {"score": {"__op": "increment", "by": True}},
        {"title": {"__op": "increment", "by": 1}},
        {"tags": {"__op": "add", "items": "a"}},
        {"tags": {"__op": "add", "items": [1]}},
        {"score": {"__op": "add", "items": [1]}},
        {"title": {"__op": "add_relation", "ids": ["a"]}},
        {"title": {"__op": "__proto__"}},
        {"title": {"__op": "increment", "by": 1, "extra": 2}},
        {"title": None},
        {"title": {"__op": "unset"}},
        {"nope": 1},
        {"id": "x"},
        {"created_at": "2020-01-01T00:00:00Z"},
        {"acl": {"*": {"read": "yes"}}},
        {"acl": {"*": {"delete": True}}},
        {"acl": {"a b": {"read": True}}},
        {"acl": []},
        {"title": "a\x00b"},
        {"meta": {"k": ["\x00"]}},
        {"tags": {"__op": "add", "items": ["\x00"]}},
    ],
)
def test_bad_updates_are_refused_and_change_nothing(pk, body):
    doc = _new(pk, {"title": "t", "tags": ["a"]})
    response = pk.patch(f"{DOCS}/{doc['id']}", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("validation_failed", "invalid_operation")
    after = pk.get(f"{DOCS}/{doc['id']}")
    assert after.json() == doc and after["ETag"] == '"1"'


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": 5},
        {"title": "x" * 201},
        {"title": "t", "score": "1"},
        {"title": "t", "score": True},
        {"title": "t", "score": 2**60},
        {"title": "t", "kind": "other"},
        {"title": "t", "published": 1},
        {"title": "t", "due": "not a date"},
        {"title": "t", "due": "2026-02-30"},
        {"title": "t", "place": {"lat": 91, "lng": 0}},
        {"title": "t", "place": {"lat": 1, "lng": 2, "alt": 3}},
        {"title": "t", "tags": "a"},
        {"title": "t", "tags": [1]},
        {"title": "t", "meta": {"$where": "1"}},
        {"title": "t", "meta": {"a.b": 1}},
        {"title": "t", "meta": []},
        {"title": "t", "cover": "../../etc/passwd"},
        {"title": "t", "__proto__": {"x": 1}},
        {"title": "t", "$where": "1"},
        {"title": "t", "id": "abcdefghij0123456789"},
        {"title": "t", "updated_at": "2020-01-01T00:00:00Z"},
        {"title": "a\x00b"},
        {"title": "t", "meta": {"k\x00": 1}},
        {"title": "t", "meta": {"k": {"deep": "\x00"}}},
        {"title": "t", "tags": ["\x00"]},
        [{"title": "t"}],
        "title",
    ],
)
def test_bad_creates_are_refused(pk, body):
    from basalt.documents.models import ChangeLogEntry, Document

    error = _error(pk.post(DOCS, body, format="json"), 400, "validation_failed")
    assert error["details"]
    assert not Document.objects.exists() and not ChangeLogEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": NaN}',
        b'{"title": "t", "score": Infinity}',
        b'{"title": "t", "score": -Infinity}',
        b"{",
        b"\xff\xfe",
        b"",
    ],
)
def test_non_json_and_non_finite_numbers(pk, raw):
    response = pk.post(DOCS, raw, content_type="application/json")
    _error(response, 400, "invalid_json")


@pytest.mark.django_db
def test_huge_body_and_wrong_media_type(pk):
    _error(
        pk.post(DOCS, b'{"title": "' + b"x" * (2 * 1024 * 1024) + b'"}', content_type="application/json"),
        413,
        "payload_too_large",
    )
    _error(pk.post(DOCS, b"title=x", content_type="application/x-www-form-urlencoded"), 415, "unsupported_media_type")
    _error(pk.put(f"{DOCS}/abc", {"title": "x"}, format="json"), 405, "method_not_allowed")


@pytest.mark.django_db
@pytest.mark.parametrize("doc_id", ["*", "role:admin", "..", "a" * 40, "%00", "abc def"])
def test_odd_ids_are_not_found(pk, doc_id):
    _error(pk.get(f"{DOCS}/{doc_id}"), 404, "not_found")
    _error(pk.patch(f"{DOCS}/{doc_id}", {"title": "x"}, format="json"), 404, "not_found")
    _error(pk.delete(f"{DOCS}/{doc_id}"), 404, "not_found")


@pytest.mark.django_db
def test_unknown_collection_is_not_found(pk):
    _error(pk.get("/api/v1/collections/nope/documents"), 404, "not_found")
    _error(pk.post("/api/v1/collections/nope/documents", {"a": 1}, format="json"), 404, "not_found")
    _error(pk.get("/api/v1/collections/__proto__/documents/abc"), 404, "not_found")


@pytest.mark.django_db
def test_missing_or_unknown_key(posts, api):
    _error(api.get(DOCS), 401, "invalid_api_key")
    api.credentials(HTTP_X_API_KEY="pk_nope")
    _error(api.post(DOCS, {"title": "x"}, format="json"), 401, "invalid_api_key")


@pytest.mark.django_db
def test_another_projects_key_sees_nothing(project, pk, make_project):
    """Project B's keys reach none of project A's documents on any route, even with the same collection name."""
    from basalt.documents.models import Document

    doc = _new(pk)
    other = make_project()
    for key in (other.publishable, other.secret):
        client = key_client(key)
        url = f"{DOCS}/{doc['id']}"
        _error(client.get(url), 404, "not_found")
        _error(client.patch(url, {"title": "x"}, format="json"), 404, "not_found")
        _error(client.delete(url), 404, "not_found")
        _error(client.get(DOCS), 404, "not_found")
        _error(client.post(DOCS, {"title": "x"}, format="json"), 404, "not_found")
        _error(client.post("/api/v1/collections/posts/query", {}, format="json"), 404, "not_found")
        batch = client.post("/api/v1/batch", {"requests": [{"method": "GET", "path": url}]}, format="json")
        assert batch.json()["results"][0]["status"] == 404
    # Same collection name in B: A's id still does not resolve there.
    key_client(other.secret).post(
        "/api/v1/schema/collections",
        {"name": "posts", "fields": {"title": {"type": "string"}}, "permissions": {"get": ["*"]}},
        format="json",
    )
    _error(key_client(other.publishable).get(f"{DOCS}/{doc['id']}"), 404, "not_found")
    assert Document.objects.get(pk=doc["id"]).data["title"] == "hello"


def test_add_unique_and_remove_treat_true_and_1_as_different():
    from basalt.documents.cache import build_schema
    from basalt.documents.models import Collection
    from basalt.documents.writes import apply_update

    schema = build_schema(Collection(name="c", fields={"a": {"type": "array"}}))
    changes = apply_update(schema, {"a": [1]}, {"a": {"__op": "add_unique", "items": [True, 1]}})
    assert changes.data["a"] == [1, True]
    changes = apply_update(schema, {"a": [1, True]}, {"a": {"__op": "remove", "items": [True]}})
    assert changes.data["a"] == [1]

"""Collections (API.md §2): validation of every type and option, rules, and who may change them."""

from __future__ import annotations

import pytest

from tests.conftest import console_client_for
from tests.documents.conftest import POSTS, key_client

URL = "/api/v1/schema/collections"


def _create(client, body):
    return client.post(URL, body, format="json")


def _own_names(client) -> list[str]:
    """The developer's collections (the built-in users and roles exist from project creation)."""
    return [c["name"] for c in client.get(URL).json()["results"] if not c["builtin"]]


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


@pytest.mark.django_db
def test_create_every_type_and_read_back(secret_client):
    """Every field type and option is accepted, normalised and returned as declared."""
    body = {
        "name": "everything",
        "fields": {
            "s": {"type": "string", "required": True, "max_length": 5, "choices": ["a", "bb"], "default": "a"},
            "n": {"type": "number", "min": 0, "max": 10, "default": 3},
            "b": {"type": "boolean", "default": False},
            "d": {"type": "date", "min": "2020-01-01", "default": "2021-05-06T07:08:09+02:00"},
            "o": {"type": "object"},
            "a": {"type": "array", "items": "number", "max_length": 3},
            "p": {"type": "pointer", "to": "everything"},
            "r": {"type": "relation", "to": "everything"},
            "f": {"type": "file"},
            "g": {"type": "geopoint"},
        },
        "indexes": [{"fields": ["n", "-created_at"]}, {"fields": ["s"], "unique": True}],
        "permissions": {"get": ["*"], "update": ["pointer:p", "role:mod", "user:abc"]},
        "protected_fields": {"*": ["o"]},
        "default_acl": "owner_write_public_read",
    }
    response = _create(secret_client, body)
    assert response.status_code == 201, response.content
    out = response.json()
    assert out["fields"]["d"]["default"] == "2021-05-06T05:08:09.000Z"
    assert out["fields"]["d"]["min"] == "2020-01-01T00:00:00.000Z"
    assert [i["fields"] for i in out["indexes"]] == [["n", "-created_at"], ["s"]]
    assert all(i["status"] in ("pending", "building", "ready") for i in out["indexes"])
    assert secret_client.get(f"{URL}/everything").json()["fields"] == out["fields"]
    assert _own_names(secret_client) == ["everything"]


BAD_FIELDS = [
    {"t": {"type": "nope"}},
    {"t": {"type": "string", "max_length": -1}},
    {"t": {"type": "string", "max_length": "5"}},
    {"t": {"type": "string", "choices": []}},
    {"t": {"type": "string", "choices": ["a", "a"]}},
    {"t": {"type": "string", "default": 5}},
    {"t": {"type": "string", "max_length": 2, "default": "abc"}},
    {"t": {"type": "string", "min": 1}},
    {"t": {"type": "number", "min": 5, "max": 1}},
    {"t": {"type": "number", "default": True}},
    {"t": {"type": "number", "max": "10"}},
    {"t": {"type": "boolean", "default": "yes"}},
    {"t": {"type": "boolean", "required": "yes"}},
    {"t": {"type": "date", "default": "yesterday"}},
    {"t": {"type": "date", "min": "2020-13-01"}},
    {"t": {"type": "array", "items": "relation"}},
    {"t": {"type": "array", "items": "array"}},
    {"t": {"type": "array", "items": "number", "default": ["x"]}},
    {"t": {"type": "pointer"}},
    {"t": {"type": "pointer", "to": "missing_collection"}},
    {"t": {"type": "pointer", "to": "../x"}},
    {"t": {"type": "relation", "to": "c", "required": True}},
    {"t": {"type": "relation", "to": "c", "default": []}},
    {"t": {"type": "geopoint", "default": {"lat": 91, "lng": 0}}},
    {"t": {"type": "object", "default": {"$where": 1}}},
    {"t": "string"},
    {"t": {"type": "string", "__class__": 1}},
]


@pytest.mark.django_db
@pytest.mark.parametrize("fields", BAD_FIELDS)
def test_invalid_field_definitions_are_refused(secret_client, fields):
    """Each malformed definition is a 400 validation_failed naming the field; nothing is created."""
    error = _error(_create(secret_client, {"name": "c", "fields": fields}), 400, "validation_failed")
    assert any(key.startswith("fields.t") for key in error["details"])
    assert _own_names(secret_client) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name", ["__proto__", "$where", "a.b", "A", "1abc", "", "x" * 64, "constructor ", "posts;drop", None, 5, "ün"]
)
def test_hostile_collection_names(secret_client, name):
    _error(_create(secret_client, {"name": name}), 400, "validation_failed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field", ["__proto__", "$where", "meta.color", "id", "created_at", "updated_at", "acl", "Ab", "_x"]
)
def test_hostile_and_reserved_field_names(secret_client, field):
    _error(_create(secret_client, {"name": "c", "fields": {field: {"type": "string"}}}), 400, "validation_failed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "indexes",
    [
        [{"fields": ["nope"]}],
        [{"fields": []}],
        [{"fields": ["a", "a"]}],
        [{"fields": ["a"]}, {"fields": ["a"]}],
        [{"fields": ["a"], "unique": "yes"}],
        [{"fields": ["rel"]}],
        [{"fields": ["a"], "where": "1=1"}],
        [{"fields": ["a", "b", "c", "d", "e", "f"]}],
        {"fields": ["a"]},
    ],
)
def test_invalid_indexes(secret_client, indexes):
    fields = {"a": {"type": "string"}, "rel": {"type": "relation", "to": "c"}}
    _error(_create(secret_client, {"name": "c", "fields": fields, "indexes": indexes}), 400, "validation_failed")


@pytest.mark.django_db
def test_indexes_may_name_system_fields(secret_client):
    body = {"name": "c", "fields": {"a": {"type": "number"}}, "indexes": [{"fields": ["-updated_at", "id"]}]}
    assert _create(secret_client, body).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    "permissions",
    [
        {"read": ["*"]},
        {"get": "*"},
        {"get": ["everyone"]},
        {"get": ["pointer:nope"]},
        {"get": ["pointer:a"]},
        {"get": ["role:"]},
        {"get": ["user:a b"]},
        {"get": [1]},
    ],
)
def test_invalid_permissions(secret_client, permissions):
    body = {"name": "c", "fields": {"a": {"type": "string"}}, "permissions": permissions}
    _error(_create(secret_client, body), 400, "validation_failed")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": "c", "default_acl": "everyone"},
        {"name": "c", "protected_fields": {"*": ["missing"]}},
        {"name": "c", "protected_fields": {"nobody:x": []}},
        {"name": "c", "unknown": 1},
        {"name": "users"},
    ],
)
def test_invalid_rules_and_reserved_names(secret_client, body):
    _error(_create(secret_client, body), 400, "validation_failed")


@pytest.mark.django_db
def test_duplicate_name_conflicts(secret_client):
    assert _create(secret_client, {"name": "c"}).status_code == 201
    _error(_create(secret_client, {"name": "c"}), 409, "conflict")


@pytest.mark.django_db
def test_collection_without_permissions_is_locked(project, secret_client):
    """Secure by default: a new collection refuses every publishable-key operation."""
    assert _create(secret_client, {"name": "c", "fields": {"a": {"type": "string"}}}).status_code == 201
    pk = key_client(project.publishable)
    _error(pk.post("/api/v1/collections/c/documents", {"a": "x"}, format="json"), 403, "permission_denied")
    doc = secret_client.post("/api/v1/collections/c/documents", {"a": "x"}, format="json").json()
    _error(pk.get(f"/api/v1/collections/c/documents/{doc['id']}"), 403, "permission_denied")
    _error(pk.get("/api/v1/collections/c/documents"), 403, "permission_denied")
    _error(
        pk.patch(f"/api/v1/collections/c/documents/{doc['id']}", {"a": "y"}, format="json"), 403, "permission_denied"
    )
    _error(pk.delete(f"/api/v1/collections/c/documents/{doc['id']}"), 403, "permission_denied")
    assert secret_client.get(f"/api/v1/collections/c/documents/{doc['id']}").json()["a"] == "x"


@pytest.mark.django_db
def test_publishable_key_cannot_touch_the_schema(project, secret_client):
    pk = key_client(project.publishable)
    _error(pk.post(URL, {"name": "c"}, format="json"), 403, "permission_denied")
    _error(pk.get(URL), 403, "permission_denied")
    assert _own_names(secret_client) == []


@pytest.mark.django_db
def test_patch_adds_and_removes_fields_and_bumps_schema_version(project, secret_client, posts):
    from basalt.projects.models import Project

    pk = key_client(project.publishable)
    doc = pk.post("/api/v1/collections/posts/documents", {"title": "t", "meta": {"x": 1}}, format="json").json()
    version = Project.objects.get(pk=project.project.pk).schema_version
    response = secret_client.patch(
        f"{URL}/posts", {"fields": {"meta": None, "extra": {"type": "number"}}}, format="json"
    )
    assert response.status_code == 200, response.content
    assert "meta" not in response.json()["fields"] and "extra" in response.json()["fields"]
    assert Project.objects.get(pk=project.project.pk).schema_version == version + 1
    # Removed at once from reads, although the stored value is still in the row.
    got = pk.get(f"/api/v1/collections/posts/documents/{doc['id']}").json()
    assert "meta" not in got
    _error(
        pk.patch(f"/api/v1/collections/posts/documents/{doc['id']}", {"meta": {}}, format="json"),
        400,
        "validation_failed",
    )


@pytest.mark.django_db
def test_patch_refuses_type_change_and_dangling_references(secret_client, posts):
    _error(
        secret_client.patch(f"{URL}/posts", {"fields": {"score": {"type": "string"}}}, format="json"),
        400,
        "validation_failed",
    )
    # `score` is indexed: removing it without dropping the index is refused.
    _error(secret_client.patch(f"{URL}/posts", {"fields": {"score": None}}, format="json"), 400, "validation_failed")
    ok = secret_client.patch(
        f"{URL}/posts", {"fields": {"score": None}, "indexes": [{"fields": ["slug"], "unique": True}]}, format="json"
    )
    assert ok.status_code == 200, ok.content
    assert [i["fields"] for i in ok.json()["indexes"]] == [["slug"]]
    _error(secret_client.patch(f"{URL}/posts", {"name": "other"}, format="json"), 400, "validation_failed")


@pytest.mark.django_db
def test_delete_collection_removes_documents(project, secret_client, posts):
    from basalt.documents.models import Document

    secret_client.post("/api/v1/collections/posts/documents", {"title": "t"}, format="json")
    assert secret_client.delete(f"{URL}/posts").status_code == 204
    assert not Document.objects.filter(project=project.project).exists()
    _error(secret_client.get("/api/v1/collections/posts/documents"), 404, "not_found")
    _error(secret_client.delete(f"{URL}/posts"), 404, "not_found")


@pytest.mark.django_db
def test_management_api_roles(make_project, make_account):
    """Viewers read the schema; developers change it; non-members get 404."""
    from basalt.projects import services

    keys = make_project()
    ref = keys.project.ref
    owner = console_client_for(keys.owner)
    base = f"/api/v1/manage/projects/{ref}/collections"
    assert owner.post(base, {"name": "c", "fields": {"a": {"type": "string"}}}, format="json").status_code == 201
    viewer, developer, stranger = make_account(), make_account(), make_account()
    services.join_project(keys.project, viewer, "viewer")
    services.join_project(keys.project, developer, "developer")
    as_viewer = console_client_for(viewer)
    assert as_viewer.get(base).json()["results"][0]["name"] == "c"
    assert as_viewer.get(f"{base}/c").status_code == 200
    _error(as_viewer.post(base, {"name": "d"}, format="json"), 403, "permission_denied")
    _error(as_viewer.patch(f"{base}/c", {"default_acl": "public"}, format="json"), 403, "permission_denied")
    _error(as_viewer.delete(f"{base}/c"), 403, "permission_denied")
    as_developer = console_client_for(developer)
    assert as_developer.patch(f"{base}/c", {"default_acl": "public"}, format="json").json()["default_acl"] == "public"
    _error(console_client_for(stranger).get(base), 404, "not_found")
    _error(console_client_for(stranger).delete(f"{base}/c"), 404, "not_found")
    assert as_developer.delete(f"{base}/c").status_code == 204
    _error(key_client(keys.secret).get(f"{URL}/c"), 404, "not_found")
    assert key_client(keys.secret).post(URL, POSTS, format="json").status_code == 201


@pytest.mark.django_db
def test_unique_index_on_a_protected_field_is_refused(secret_client):
    """A unique index over a protected field is an oracle (409 on a guessed `ssn`): refused both ways round."""
    fields = {"ssn": {"type": "string"}, "title": {"type": "string"}}
    both = {"name": "people", "fields": fields, "indexes": [{"fields": ["ssn"], "unique": True}]}
    refused = secret_client.post(URL, {**both, "protected_fields": {"*": ["ssn"]}}, format="json")
    _error(refused, 400, "validation_failed")
    assert "indexes.0" in refused.json()["error"]["details"]
    compound = {
        **both,
        "indexes": [{"fields": ["title", "-ssn"], "unique": True}],
        "protected_fields": {"role:x": ["ssn"]},
    }
    _error(secret_client.post(URL, compound, format="json"), 400, "validation_failed")
    # A plain index on it is fine (it answers no question), and so is a unique index on an open field.
    plain = {**both, "indexes": [{"fields": ["ssn"]}, {"fields": ["title"], "unique": True}]}
    assert secret_client.post(URL, {**plain, "protected_fields": {"*": ["ssn"]}}, format="json").status_code == 201
    _error(
        secret_client.patch(f"{URL}/people", {"indexes": [{"fields": ["ssn"], "unique": True}]}, format="json"),
        400,
        "validation_failed",
    )
    assert secret_client.post(URL, {**both, "name": "open"}, format="json").status_code == 201
    _error(
        secret_client.patch(f"{URL}/open", {"protected_fields": {"*": ["ssn"]}}, format="json"),
        400,
        "validation_failed",
    )

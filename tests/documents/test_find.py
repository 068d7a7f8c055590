"""find/count through the query engine: ACLs in SQL, permissions, pointer grants, expand, hostile parameters."""

from __future__ import annotations

import json

import pytest

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery, PermissionDenied
from tests.documents.conftest import key_client

DOCS = "/api/v1/collections/posts/documents"


def _caller(project, user=None, roles=(), kind="publishable"):
    return Caller(project=project, key_kind=kind, key_id="key_test", user_id=user, roles=frozenset(roles))


@pytest.mark.django_db
def test_find_and_count_see_only_readable_documents(project, pk, secret_client):
    for i in range(3):
        secret_client.post(DOCS, {"title": f"pub{i}", "score": i, "acl": {"*": {"read": True}}}, format="json")
    for i in range(4):
        secret_client.post(DOCS, {"title": f"hid{i}", "score": i, "acl": {"u1": {"read": True}}}, format="json")
    page = pk.get(DOCS, {"count": "true", "order": "score", "limit": "2"}).json()
    assert [d["title"] for d in page["results"]] == ["pub0", "pub1"] and page["count"] == 3
    rest = pk.get(DOCS, {"order": "score", "limit": "2", "cursor": page["next_cursor"]}).json()
    assert [d["title"] for d in rest["results"]] == ["pub2"] and rest["next_cursor"] is None
    assert secret_client.get(DOCS, {"count": "true", "limit": "0"}).json()["count"] == 7
    posted = pk.post(
        "/api/v1/collections/posts/query", {"where": {"score": {"$gte": 1}}, "count": True}, format="json"
    ).json()
    assert posted["count"] == 2
    from basalt.documents.finding import find_documents

    assert find_documents(_caller(project.project, "u1"), "posts", {"count": True, "limit": 0})["count"] == 7


@pytest.mark.django_db
def test_find_and_count_permissions(project, secret_client):
    secret_client.post(
        "/api/v1/schema/collections",
        {
            "name": "msgs",
            "fields": {"to": {"type": "pointer", "to": "msgs"}, "text": {"type": "string"}},
            "permissions": {"find": ["pointer:to"], "count": ["role:stats"]},
            "default_acl": "public",
        },
        format="json",
    )
    for target in ("u1", "u1", "u2"):
        secret_client.post("/api/v1/collections/msgs/documents", {"to": target, "text": "x"}, format="json")
    from basalt.documents.finding import find_documents

    p = project.project
    assert len(find_documents(_caller(p, "u1"), "msgs", {})["results"]) == 2
    assert len(find_documents(_caller(p, "u2"), "msgs", {"where": {"text": "x"}})["results"]) == 1
    with pytest.raises(PermissionDenied):
        find_documents(_caller(p), "msgs", {})
    with pytest.raises(PermissionDenied):
        find_documents(_caller(p, "u1"), "msgs", {"count": True, "limit": 0})
    assert find_documents(_caller(p, "u9", roles={"stats"}), "msgs", {"count": True, "limit": 0})["count"] == 3
    response = key_client(project.publishable).get("/api/v1/collections/msgs/documents")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_protected_field_cannot_be_filtered_or_sorted_by_those_who_cannot_read_it(project, pk, secret_client):
    # A protected field may not carry a unique index (it would be a writers' oracle): drop it first.
    protect = {"protected_fields": {"*": ["slug"]}, "indexes": [{"fields": ["score"]}]}
    assert secret_client.patch("/api/v1/schema/collections/posts", protect, format="json").status_code == 200
    secret_client.post(DOCS, {"title": "t", "slug": "secret-value", "acl": {"*": {"read": True}}}, format="json")
    for params in (
        {"where": json.dumps({"slug": "secret-value"})},
        {"order": "slug"},
        {"where": json.dumps({"$or": [{"slug": {"$regex": "^s"}}]})},
    ):
        response = pk.get(DOCS, params)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_query", params
    assert "slug" not in pk.get(DOCS).json()["results"][0]
    assert secret_client.get(DOCS, {"where": json.dumps({"slug": "secret-value"})}).json()["results"][0]["slug"]


@pytest.mark.django_db
def test_expand_respects_target_permissions_and_acls(project, pk, secret_client):
    schema = "/api/v1/schema/collections"
    secret_client.post(
        schema, {"name": "people", "fields": {"name": {"type": "string"}}, "permissions": {"get": ["*"]}}, format="json"
    )
    secret_client.post(schema, {"name": "vault", "fields": {"name": {"type": "string"}}}, format="json")
    secret_client.patch(
        f"{schema}/posts",
        {"fields": {"author": {"type": "pointer", "to": "people"}, "box": {"type": "pointer", "to": "vault"}}},
        format="json",
    )
    visible = secret_client.post(
        "/api/v1/collections/people/documents", {"name": "ann", "acl": {"*": {"read": True}}}, format="json"
    ).json()
    private = secret_client.post(
        "/api/v1/collections/people/documents", {"name": "bob", "acl": {}}, format="json"
    ).json()
    box = secret_client.post(
        "/api/v1/collections/vault/documents", {"name": "gold", "acl": {"*": {"read": True}}}, format="json"
    ).json()
    a = pk.post(DOCS, {"title": "a", "author": visible["id"], "box": box["id"]}, format="json").json()
    b = pk.post(DOCS, {"title": "b", "author": private["id"]}, format="json").json()
    got = {d["id"]: d for d in pk.get(DOCS, {"expand": "author,box"}).json()["results"]}
    assert got[a["id"]]["author"]["name"] == "ann"
    assert got[b["id"]]["author"] == private["id"]  # not readable: stays an id
    assert got[a["id"]]["box"] == box["id"]  # vault is locked for the publishable key
    one = pk.get(f"{DOCS}/{a['id']}", {"expand": "author"}).json()
    assert one["author"]["name"] == "ann"
    as_secret = secret_client.get(f"{DOCS}/{a['id']}", {"expand": "box"}).json()
    assert as_secret["box"]["name"] == "gold"
    for bad in ("title", "author.name", "a.b.c.d", "nope"):
        response = pk.get(DOCS, {"expand": bad})
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_query", bad


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"where": "{not json"},
        {"where": json.dumps({"title": {"$where": "1"}})},
        {"where": json.dumps({"nope": 1})},
        {"where": json.dumps({"score": {"$in": list(range(1001))}})},
        {"where": json.dumps({"score": "NaN"})},
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "1001"},
        {"count": "yes"},
        {"cursor": "garbage"},
        {"order": "nope"},
        {"unknown": "1"},
        {"where": json.dumps({"__proto__": {"x": 1}})},
    ],
)
def test_hostile_find_parameters(pk, params):
    response = pk.get(DOCS, params)
    assert response.status_code == 400, (params, response.content)
    assert response.json()["error"]["code"] == "invalid_query"


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], "x", {"where": [1]}, {"limit": "5"}, {"bogus": 1}, {"where": {"$or": 5}}])
def test_hostile_query_bodies(pk, body):
    response = pk.post("/api/v1/collections/posts/query", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_query"


def test_query_errors_are_invalid_query():
    assert InvalidQuery.code == "invalid_query"


@pytest.mark.django_db
def test_a_page_reads_its_timestamps_with_psycopgs_own_loader_and_the_same_instants(project, pk, secret_client):
    """Pages parse `created_at`/`updated_at` with psycopg's C loader, not Django's pure-Python one
    (core.pg_timestamps): the same aware UTC datetimes; under a session time zone other than UTC,
    Django's own loader stays."""
    from datetime import UTC

    import psycopg
    from django.db import connection
    from psycopg.pq import Format

    from basalt.core import pg_timestamps
    from basalt.documents.models import Document

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's loaders")
    made = secret_client.post(DOCS, {"title": "t", "score": 1, "acl": {"*": {"read": True}}}, format="json").json()
    stored = Document.objects.get(pk=made["id"])
    page = pk.get(DOCS).json()["results"]
    assert [(d["created_at"], d["updated_at"]) for d in page] == [(made["created_at"], made["updated_at"])]

    oid = psycopg.adapters.types["timestamptz"].oid
    with connection.cursor() as cursor:
        pg_timestamps.fast_timestamps(cursor)
        assert cursor.cursor.adapters.get_loader(oid, Format.TEXT) is psycopg.adapters.get_loader(oid, Format.TEXT)
        cursor.execute("SELECT created_at FROM basalt_document WHERE id = %s", [stored.pk])
        loaded = cursor.fetchone()[0]
    assert loaded == stored.created_at and loaded.tzinfo is UTC

    with connection.cursor() as cursor:  # a session zone other than UTC: Django's own reading stays
        cursor.execute("SET LOCAL TIME ZONE 'Asia/Kolkata'")
        django_loader = cursor.cursor.adapters.get_loader(oid, Format.TEXT)
        pg_timestamps.fast_timestamps(cursor)
        assert cursor.cursor.adapters.get_loader(oid, Format.TEXT) is django_loader
        cursor.execute("SET LOCAL TIME ZONE 'UTC'")

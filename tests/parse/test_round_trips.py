"""The Parse face adds no database round trip to the native face's: each operation of the shared
workload (bench/parse_face.py) runs exactly as many statements through /parse as through /api/v1,
as the secret (master) key and as a signed-in user."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery"


def _statements(call) -> int:
    # Warm: the key, session and schema caches of this process, as on a live server. Twice: after a
    # write of this connection, SQLite's key memo only notes it at the next lookup and keeps the
    # key from the one after (core.unchanged).
    call()
    call()
    with CaptureQueriesContext(connection) as queries:
        response = call()
    assert response.status_code in (200, 201, 204), response.content
    return len(queries.captured_queries)


def _faces(project, as_user: bool):
    secret = Client(HTTP_X_API_KEY=project.secret)
    definition = {
        "name": "scores",
        "fields": {"player_name": {"type": "string"}, "score": {"type": "number"}},
        "indexes": [{"fields": ["score"]}],
        "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
        "default_acl": "public",
    }
    assert secret.post("/api/v1/schema/collections", definition, content_type="application/json").status_code == 201
    ref = project.project.ref
    if not as_user:
        return secret, Client(HTTP_X_PARSE_APPLICATION_ID=ref, HTTP_X_PARSE_MASTER_KEY=project.secret)
    signup = Client(HTTP_X_API_KEY=project.publishable).post(
        "/api/v1/auth/signup", {"username": "bencher", "password": PASSWORD}, content_type="application/json"
    )
    assert signup.status_code == 201, signup.content
    parse = Client(HTTP_X_PARSE_APPLICATION_ID=ref, HTTP_X_PARSE_REST_API_KEY=project.publishable)
    login = parse.get("/parse/login", {"username": "bencher", "password": PASSWORD})
    assert login.status_code == 200, login.content
    native = Client(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {signup.json()['access_token']}")
    parse = Client(
        HTTP_X_PARSE_APPLICATION_ID=ref,
        HTTP_X_PARSE_REST_API_KEY=project.publishable,
        HTTP_X_PARSE_SESSION_TOKEN=login.json()["sessionToken"],
    )
    return native, parse


@pytest.mark.parametrize("as_user", [False, True], ids=["master", "user"])
def test_parse_face_costs_no_extra_statement(project, as_user):
    """Create, get, query, update, delete and a 10-request batch: the same statement count per face."""
    native, parse = _faces(project, as_user)
    docs = "/api/v1/collections/scores/documents"
    objects = "/parse/classes/Scores"
    as_json = {"content_type": "application/json"}

    def native_create():
        return native.post(docs, {"player_name": "p", "score": 1}, **as_json)

    def parse_create():
        return parse.post(objects, {"playerName": "p", "score": 1}, **as_json)

    native_ids = [native_create().json()["id"] for _ in range(3)]
    parse_ids = [parse_create().json()["objectId"] for _ in range(3)]
    native_item = {"method": "POST", "path": docs, "body": {"score": 2}}
    parse_item = {"method": "POST", "path": objects, "body": {"score": 2}}
    query = {"where": json.dumps({"score": {"$gte": 0}}), "order": "-score", "limit": 10}
    counts = {
        "create": (_statements(native_create), _statements(parse_create)),
        "get": (
            _statements(lambda: native.get(f"{docs}/{native_ids[0]}")),
            _statements(lambda: parse.get(f"{objects}/{parse_ids[0]}")),
        ),
        "query": (_statements(lambda: native.get(docs, query)), _statements(lambda: parse.get(objects, query))),
        "update": (
            _statements(lambda: native.patch(f"{docs}/{native_ids[0]}", {"score": {"__op": "increment"}}, **as_json)),
            _statements(
                lambda: parse.put(f"{objects}/{parse_ids[0]}", {"score": {"__op": "Increment", "amount": 1}}, **as_json)
            ),
        ),
        "delete": (
            _statements(lambda: native.delete(f"{docs}/{native_ids.pop()}")),
            _statements(lambda: parse.delete(f"{objects}/{parse_ids.pop()}")),
        ),
        "batch10": (
            _statements(lambda: native.post("/api/v1/batch", {"requests": [native_item] * 10}, **as_json)),
            _statements(lambda: parse.post("/parse/batch", {"requests": [parse_item] * 10}, **as_json)),
        ),
    }
    assert {kind: parse_n for kind, (_native_n, parse_n) in counts.items()} == {
        kind: native_n for kind, (native_n, _parse_n) in counts.items()
    }


def test_the_anchor_workloads_shapes_cost_no_extra_statement(project):
    """The shared anchor workload as its two adapters send it, as a signed-in user: a create with an
    ACL and a `_User` Pointer, a batch of 50 of them, top 20, tags `$in` (natively the `$or` of
    `$contains`) and a count without `where` (the Parse adapter asks for no object, the native one
    for one): never more statements through /parse than through /api/v1."""
    native, parse = _faces(project, as_user=True)
    secret = Client(HTTP_X_API_KEY=project.secret)
    definition = {
        "name": "posts",
        "fields": {
            "title": {"type": "string"},
            "score": {"type": "number"},
            "tags": {"type": "array"},
            "author": {"type": "pointer", "to": "users"},
        },
        "indexes": [{"fields": ["-score"]}, {"fields": ["tags"]}],
        "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
        "default_acl": "public",
    }
    assert secret.post("/api/v1/schema/collections", definition, content_type="application/json").status_code == 201
    me = native.get("/api/v1/auth/me").json()["id"]
    acl = {me: {"read": True, "write": True}, "*": {"read": True}}
    post = {"title": "post", "score": 5, "tags": ["news", "art"]}
    native_body = {**post, "author": me, "acl": acl}
    parse_body = {**post, "author": {"__type": "Pointer", "className": "_User", "objectId": me}, "ACL": acl}
    docs, objects = "/api/v1/collections/posts/documents", "/parse/classes/Posts"
    as_json = {"content_type": "application/json"}
    top = {"where": json.dumps({"score": {"$gt": 1}}), "order": "-score", "limit": 20}
    tags_native = {"where": json.dumps({"$or": [{"tags": {"$contains": t}} for t in ("news", "food")]}), "limit": 20}
    tags_parse = {"where": json.dumps({"tags": {"$in": ["news", "food"]}}), "limit": 20}
    counts = {
        "create": (
            _statements(lambda: native.post(docs, native_body, **as_json)),
            _statements(lambda: parse.post(objects, parse_body, **as_json)),
        ),
        "batch50": (
            _statements(
                lambda: native.post(
                    "/api/v1/batch",
                    {"requests": [{"method": "POST", "path": docs, "body": native_body}] * 50},
                    **as_json,
                )
            ),
            _statements(
                lambda: parse.post(
                    "/parse/batch",
                    {"requests": [{"method": "POST", "path": objects, "body": parse_body}] * 50},
                    **as_json,
                )
            ),
        ),
        "top20": (_statements(lambda: native.get(docs, top)), _statements(lambda: parse.get(objects, top))),
        "tags_in": (
            _statements(lambda: native.get(docs, tags_native)),
            _statements(lambda: parse.get(objects, tags_parse)),
        ),
        "count_all": (
            _statements(lambda: native.get(docs, {"where": "{}", "count": "true", "limit": 1})),
            _statements(lambda: parse.get(objects, {"where": "{}", "count": 1, "limit": 0})),
        ),
    }
    over = {kind: (native_n, parse_n) for kind, (native_n, parse_n) in counts.items() if parse_n > native_n}
    assert not over, over
    assert counts["batch50"][1] == counts["batch50"][0] and counts["create"][1] == counts["create"][0]

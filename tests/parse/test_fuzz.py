"""Hostile input through /parse/ (T1 for this face): generated bodies, queries and paths never get a
5xx, always a JSON answer, and errors are Parse-shaped ({code, error})."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db(transaction=True)

KEYS = st.sampled_from(
    [
        "score",
        "name",
        "tags",
        "when",
        "owner",
        "stats.wins",
        "objectId",
        "ACL",
        "$or",
        "$and",
        "$nor",
        "$relatedTo",
        "_User",
        "a" * 70,
        "bad key",
        "",
        "createdAt",
        "__op",
    ]
)
OPS = st.sampled_from(
    [
        "$lt",
        "$gt",
        "$in",
        "$nin",
        "$all",
        "$exists",
        "$regex",
        "$options",
        "$inQuery",
        "$notInQuery",
        "$select",
        "$dontSelect",
        "$text",
        "$nearSphere",
        "$within",
        "$maxDistance",
        "$containedBy",
        "$bogus",
        "__type",
        "__op",
        "className",
        "objectId",
        "iso",
        "latitude",
        "amount",
        "objects",
    ]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["Pointer", "Date", "GeoPoint", "File", "Relation", "Bytes", "Increment", "AddRelation", "Batch"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(KEYS, OPS), inner, max_size=4)),
    max_leaves=12,
)
PATHS = st.sampled_from(
    [
        "classes/Fuzz",
        "classes/Fuzz/abc",
        "classes/_User",
        "classes/_Role",
        "classes/_Session",
        "users",
        "users/me",
        "login",
        "logout",
        "batch",
        "roles",
        "sessions",
        "schemas/Fuzz",
        "installations",
        "push",
        "config",
        "requestPasswordReset",
        "verificationEmailRequest",
        "verifyPassword",
        "functions/x",
        "classes/9",
        "nowhere",
        "classes/Fuzz/" + "x" * 80,
        "files/a.txt",
    ]
)
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE"])


def _check(response) -> None:
    assert response.status_code < 500, response.content[:300]
    body = json.loads(response.content)
    if response.status_code >= 400 and response.status_code != 403:
        assert set(body) == {"code", "error"} and isinstance(body["code"], int), body


@pytest.fixture
def clients(master, rest):
    assert (
        master.post("classes/Fuzz", {"score": 1, "name": "x", "tags": ["a"], "stats": {"wins": 1}}).status_code == 201
    )
    return master, rest


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_requests_never_5xx(clients, data):
    master, rest = clients
    client = data.draw(st.sampled_from([master, rest]))
    method, path = data.draw(METHODS), data.draw(PATHS)
    if method == "GET":
        params = data.draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "where",
                        "order",
                        "limit",
                        "skip",
                        "keys",
                        "include",
                        "excludeKeys",
                        "count",
                        "username",
                        "password",
                    ]
                ),
                st.one_of(VALUES.map(json.dumps), st.text(max_size=20)),
                max_size=4,
            )
        )
        response = client.http.get("/parse/" + path, params, **client.headers)
    else:
        body = data.draw(st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=5)))
        response = client.call(method, path, body)
    _check(response)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(where=st.dictionaries(KEYS, st.one_of(VALUES, st.dictionaries(OPS, VALUES, max_size=3)), max_size=4))
def test_generated_where_never_5xx(clients, where):
    master, rest = clients
    for client in (master, rest):
        _check(client.get("classes/Fuzz", {"where": where}))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.dictionaries(KEYS, st.one_of(VALUES, st.dictionaries(OPS, VALUES, max_size=3)), max_size=4))
def test_generated_updates_never_5xx(clients, body):
    master, _rest = clients
    oid = master.get("classes/Fuzz", {"limit": 1}).json()["results"][0]["objectId"]
    _check(master.put(f"classes/Fuzz/{oid}", body))


def test_found_by_the_fuzzer(master):
    """Unhashable values where a type name is expected are 111, not a crash."""
    oid = master.post("classes/Fuzz", {"score": 2}).json()["objectId"]
    _check(master.put(f"classes/Fuzz/{oid}", {"score": {"__type": ["Date"]}}))
    _check(master.post("schemas/Other", {"fields": {"x": {"type": ["String"]}}}))
    _check(master.get("classes/Fuzz", {"where": {"score": {"__type": {"a": 1}}}}))


def test_raw_garbage_bodies(master):
    for raw in (b"", b"[]", b"nul", b"\xff\xfe", b'{"a":' * 200, b'"str"', b"1e999", b'{"_method": 5}'):
        response = master.http.post("/parse/classes/Fuzz", raw, content_type="text/plain", **master.headers)
        _check(response)

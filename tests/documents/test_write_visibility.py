"""A write's answer shows only what the caller may read (issue 8, items 2 and 9).

Write access is not read access: a caller allowed to update (or create) but not to get a document,
by collection rules or by a write-only ACL, gets a receipt (id and the times of their own write),
never stored values; protected fields never appear; and operations whose success depends on a
value the caller cannot read (increment against a `max`, array ops against `max_length`) are
refused, so a 200-versus-400 cannot reveal it.
"""

from __future__ import annotations

import pytest

from tests.documents.conftest import key_client

SCHEMA = "/api/v1/schema/collections"
ALL_OPS = ("get", "find", "count", "create", "update", "delete")


def _collection(secret_client, name: str, permissions: dict, **extra) -> None:
    body = {
        "name": name,
        "fields": {
            "title": {"type": "string"},
            "ssn": {"type": "string"},
            "score": {"type": "number", "max": 100},
            "tags": {"type": "array", "items": "string", "max_length": 3},
        },
        "permissions": permissions,
        "default_acl": "public",
        **extra,
    }
    response = secret_client.post(SCHEMA, body, format="json")
    assert response.status_code == 201, response.content


def _docs(name: str) -> str:
    return f"/api/v1/collections/{name}/documents"


def _stored(secret_client, name: str, **data) -> dict:
    response = secret_client.post(_docs(name), {"title": "t", "ssn": "078-05-1120", **data}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _assert_receipt(response, *keys: str) -> None:
    assert response.status_code in (200, 201), response.content
    assert set(response.json()) == {"id", *keys}, response.json()
    assert "ETag" not in response.headers  # the version is the document's, not the caller's


@pytest.mark.django_db
def test_update_allowed_but_get_not_answers_a_receipt(project, secret_client):
    """Collection rules: update for everyone, get for no one. PATCH {} and increment by 0 show nothing."""
    _collection(secret_client, "drop", {"update": ["*"], "create": ["*"]})
    doc = _stored(secret_client, "drop", score=7)
    pk = key_client(project.publishable)
    assert pk.get(f"{_docs('drop')}/{doc['id']}").status_code == 403
    _assert_receipt(pk.patch(f"{_docs('drop')}/{doc['id']}", {}, format="json"), "updated_at")
    _assert_receipt(pk.patch(f"{_docs('drop')}/{doc['id']}", {"title": "new"}, format="json"), "updated_at")
    batch = pk.post(
        "/api/v1/batch",
        {"requests": [{"method": "PATCH", "path": f"{_docs('drop')}/{doc['id']}", "body": {"title": "b"}}]},
        format="json",
    ).json()["results"][0]
    assert batch["status"] == 200 and set(batch["body"]) == {"id", "updated_at"}, batch
    created = pk.post(_docs("drop"), {"title": "mine", "ssn": "1"}, format="json")
    _assert_receipt(created, "created_at", "updated_at")
    assert created["Location"].endswith(created.json()["id"])
    assert secret_client.get(f"{_docs('drop')}/{doc['id']}").json()["title"] == "b"  # the writes happened


@pytest.mark.django_db
def test_write_only_acl_answers_a_receipt_and_get_stays_404(project, secret_client):
    """Document ACL: `*` may write but not read. Every write path answers a receipt; GET is 404."""
    _collection(secret_client, "inbox", {op: ["*"] for op in ALL_OPS})
    doc = _stored(secret_client, "inbox", score=5, acl={"*": {"write": True}})
    pk = key_client(project.publishable)
    url = f"{_docs('inbox')}/{doc['id']}"
    assert pk.get(url).status_code == 404
    _assert_receipt(pk.patch(url, {}, format="json"), "updated_at")
    batch = pk.post(
        "/api/v1/batch",
        {"transaction": True, "requests": [{"method": "PATCH", "path": url, "body": {"title": "x"}}]},
        format="json",
    ).json()["results"][0]
    assert set(batch["body"]) == {"id", "updated_at"}, batch
    # A write that takes away the caller's own read right answers a receipt as well.
    # Its version is not theirs to test either: only `*` matches for a caller who cannot read it.
    assert pk.patch(url, {}, format="json", HTTP_IF_MATCH='"3"').status_code == 412
    assert pk.patch(url, {}, format="json", HTTP_IF_MATCH="*").status_code == 200
    readable = _stored(secret_client, "inbox")
    response = pk.patch(f"{_docs('inbox')}/{readable['id']}", {"acl": {"*": {"write": True}}}, format="json")
    _assert_receipt(response, "updated_at")
    created = pk.post(_docs("inbox"), {"title": "x", "acl": {"*": {"write": True}}}, format="json")
    _assert_receipt(created, "created_at", "updated_at")


@pytest.mark.django_db
def test_relative_operations_on_values_the_caller_cannot_read_are_refused(project, secret_client):
    """increment against a `max` (or ±2^53) and array ops against `max_length` would be oracles."""
    _collection(secret_client, "scores", {op: ["*"] for op in ALL_OPS}, protected_fields={"*": ["score", "tags"]})
    doc = _stored(secret_client, "scores", score=100, tags=["a", "b", "c"])
    pk = key_client(project.publishable)
    url = f"{_docs('scores')}/{doc['id']}"
    answers = [pk.patch(url, {"score": {"__op": "increment", "by": by}}, format="json") for by in (0, 1, -1, 2**53)] + [
        pk.patch(url, {"tags": {"__op": op, "items": ["a"]}}, format="json") for op in ("add", "add_unique", "remove")
    ]
    assert {(r.status_code, r.json()["error"]["code"]) for r in answers} == {(400, "invalid_operation")}
    assert len({r.json()["error"]["message"].split(" ", 1)[1] for r in answers}) == 1
    # A malformed operation on a protected field is a 400 like anywhere else (the fuzzer sent this).
    malformed = pk.patch(url, {"score": {"__op": {}, "by": 0, "items": []}}, format="json")
    assert malformed.status_code == 400, malformed.content
    # Setting or unsetting a protected field stays allowed; the answer never shows it.
    response = pk.patch(url, {"score": 3, "title": "u"}, format="json")
    assert response.status_code == 200 and "score" not in response.json() and response.json()["title"] == "u"
    assert secret_client.get(url).json()["score"] == 3

    # On a document the caller cannot read at all, no field's value may be operated on either.
    blind = _stored(secret_client, "scores", title="t", acl={"*": {"write": True}})
    refused = pk.patch(f"{_docs('scores')}/{blind['id']}", {"tags": {"__op": "add", "items": ["z"]}}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "invalid_operation"
    # A readable, unprotected field still takes every operation.
    open_doc = _stored(secret_client, "scores")
    secret = key_client(project.secret)
    ok = secret.patch(f"{_docs('scores')}/{open_doc['id']}", {"score": {"__op": "increment", "by": 2}}, format="json")
    assert ok.json()["score"] == 2


@pytest.mark.django_db
def test_refused_update_does_not_confirm_a_document_get_would_hide(project, secret_client):
    """Update allowed by the collection but the ACL refuses writing and `get` is not granted: 404, not 403."""
    _collection(secret_client, "hidden", {"update": ["*"], "delete": ["*"]})
    doc = _stored(secret_client, "hidden", acl={"*": {"read": True}})
    pk = key_client(project.publishable)
    for response in (
        pk.patch(f"{_docs('hidden')}/{doc['id']}", {"title": "x"}, format="json"),
        pk.delete(f"{_docs('hidden')}/{doc['id']}"),
    ):
        assert response.status_code == 404, response.content
    missing = pk.patch(f"{_docs('hidden')}/abcdefghij0123456789", {"title": "x"}, format="json")
    assert missing.status_code == 404 and missing.json() == response.json()

"""Idempotency-Key on data-API writes (API.md §12, SECURITY.md T23)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from rest_framework.test import APIClient

from tests.contract import live

OPEN = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}
POSTS = {"name": "posts", "fields": {"title": {"type": "string"}}, "permissions": OPEN, "default_acl": "public"}
DOCS = "/api/v1/collections/posts/documents"


@pytest.fixture
def sk(secret_client):
    assert secret_client.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    return secret_client


def post(client, body, key, path=DOCS):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def count(client) -> int:
    return client.get(DOCS, {"count": "true", "limit": 0}).json()["count"]


@pytest.mark.django_db
def test_a_repeat_replays_the_first_answer_and_writes_once(sk):
    first = post(sk, {"title": "once"}, "k-1")
    again = post(sk, {"title": "once"}, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Location"] == first["Location"] and again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert count(sk) == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_422(sk):
    post(sk, {"title": "a"}, "k-2")
    response = post(sk, {"title": "b"}, "k-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert count(sk) == 1


@pytest.mark.django_db
def test_the_same_bytes_as_another_media_type_are_another_request(sk):
    """Schema fuzzer finding: a body refused as text/plain (415, kept) was replayed to the same bytes
    sent as JSON, a 415 the JSON request's route never documents."""
    body = b'{"title": "a"}'
    first = sk.post(DOCS, body, content_type="text/plain", HTTP_IDEMPOTENCY_KEY="k-media")
    assert first.status_code == 415
    again = sk.post(DOCS, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-media")
    assert again.status_code == 422 and again.json()["error"]["code"] == "idempotency_key_reused"
    assert count(sk) == 0


@pytest.mark.django_db
def test_a_key_is_scoped_to_the_operation_so_another_route_answers_for_itself(sk):
    """Found by the schema fuzzer: a key used on one route answered 422 on another route before its 401."""
    post(sk, {"title": "a"}, "k-9")
    other_path = sk.patch(DOCS + "/x", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-9")
    assert other_path.status_code == 404 and other_path.json()["error"]["code"] == "not_found"
    signed_out = sk.patch("/api/v1/auth/me", {"username": "zed"}, format="json", HTTP_IDEMPOTENCY_KEY="k-9")
    assert signed_out.status_code == 401, signed_out.content
    assert count(sk) == 1


@pytest.mark.django_db
def test_a_method_the_route_refuses_or_a_path_no_route_serves_gets_its_own_answer(sk):
    """Found by the schema fuzzer: a PUT with a used key answered 422 before its route's 405."""
    post(sk, {"title": "a"}, "k-5")
    refused = sk.put(DOCS, {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert refused.status_code == 405 and "POST" in refused["Allow"]
    batch_put = sk.put("/api/v1/batch", {"requests": []}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert batch_put.status_code == 405
    nowhere = sk.post("/api/v1/no-such-route", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert nowhere.status_code == 404
    # A malformed key too gets the route's own answer there, not 400.
    assert sk.put(DOCS, {"title": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="a\tb").status_code == 405
    assert sk.post("/api/v1/no-such-route", {}, format="json", HTTP_IDEMPOTENCY_KEY="").status_code == 404
    # Repeated with another body: the route's own answer again, never a replay or 422.
    for _ in range(2):
        again = sk.put(DOCS, {"title": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
        assert again.status_code == 405 and not again.has_header("Idempotent-Replayed")
        again = sk.post("/api/v1/no-such-route", {"x": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
        assert again.status_code == 404 and not again.has_header("Idempotent-Replayed")
    from basalt.operations.models import IdempotencyRecord

    assert IdempotencyRecord.objects.count() == 1, "only the POST that could change something holds the key"
    assert count(sk) == 1


@pytest.mark.django_db
def test_keys_are_scoped_to_the_credentials(sk, project):
    other = APIClient()
    other.credentials(HTTP_X_API_KEY=project.publishable)
    post(sk, {"title": "a"}, "shared")
    response = post(other, {"title": "a"}, "shared")
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")
    assert count(sk) == 2


@pytest.mark.django_db
def test_a_validation_error_is_kept_but_a_bad_api_key_is_not(sk):
    bad = post(sk, {"title": 5}, "k-3")
    assert bad.status_code == 400
    assert post(sk, {"title": 5}, "k-3")["Idempotent-Replayed"] == "true"
    anonymous = APIClient()
    assert post(anonymous, {"title": "a"}, "k-4").status_code == 401
    from basalt.operations.models import IdempotencyRecord

    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_a_repeated_delete_replays_204_instead_of_404(sk):
    doc = sk.post(DOCS, {"title": "gone"}, format="json").json()
    first = sk.delete(f"{DOCS}/{doc['id']}", HTTP_IDEMPOTENCY_KEY="del-1")
    again = sk.delete(f"{DOCS}/{doc['id']}", HTTP_IDEMPOTENCY_KEY="del-1")
    assert first.status_code == again.status_code == 204 and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "ключ", "a\tb"])
def test_malformed_keys_are_400(sk, key):
    response = post(sk, {"title": "a"}, key)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"
    assert count(sk) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "a\tb", "fine-key"])
def test_an_unauthenticated_request_gets_the_routes_401_whatever_its_key(sk, key):
    """Found by the schema fuzzer: a malformed key answered 400 before the route's 401."""
    for credentials in ({}, {"HTTP_X_API_KEY": "bsk_not_a_key"}):
        client = APIClient()
        client.credentials(**credentials)
        response = post(client, {"title": "a"}, key)
        assert response.status_code == 401, response.content
    assert count(sk) == 0


@pytest.mark.django_db
def test_a_revoked_api_key_gets_the_routes_401_not_a_replay_or_422(sk, project):
    """Found by the schema fuzzer: a key reused without valid credentials answered 422 before the route's 401."""
    from django.utils import timezone

    from basalt.projects.models import ApiKey

    assert post(sk, {"title": "a"}, "k-7").status_code == 201
    ApiKey.objects.filter(project=project.project, kind="secret").update(revoked_at=timezone.now())
    for body in ({"title": "a"}, {"title": "b"}):
        response = post(sk, body, "k-7")
        assert response.status_code == 401, response.content
        assert response.json()["error"]["code"] == "invalid_api_key" and not response.has_header("Idempotent-Replayed")


@pytest.mark.django_db
def test_the_caller_is_resolved_once_per_request_with_a_key(sk, monkeypatch):
    from basalt.projects import caller

    calls = []
    real = caller.resolve_key
    monkeypatch.setattr(caller, "resolve_key", lambda raw: calls.append(raw) or real(raw))
    assert post(sk, {"title": "a"}, "k-8").status_code == 201
    assert len(calls) == 1


def test_the_openapi_document_declares_the_header_where_it_is_honoured():
    from basalt.documents.openapi import build_document
    from basalt.operations import idempotency

    document = build_document()
    declared, writes = set(), set()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() not in idempotency.MUTATING:
                continue
            writes.add((path, method))
            names = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
            if ("Idempotency-Key", "header") in names:
                declared.add((path, method))
                assert {"400", "409", "422"} <= set(operation["responses"]), (path, method)
    assert ("/api/v1/collections/{collection}/documents", "post") in declared
    assert ("/api/v1/collections/{collection}/documents/{id}", "delete") in declared
    assert ("/api/v1/batch", "post") in declared
    # Streamed uploads do not take it (the middleware leaves /api/v1/files alone).
    assert not {w for w in declared if w[0].startswith("/api/v1/files")}
    assert declared == {w for w in writes if not w[0].startswith("/api/v1/files")}
    schema = next(
        p for p in document["paths"]["/api/v1/batch"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    )["schema"]
    assert schema["maxLength"] == idempotency.MAX_KEY


@pytest.mark.django_db(transaction=True)
def test_the_keys_own_rows_commit_without_waiting_for_the_disk_on_postgresql(sk):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert post(sk, {"title": "a"}, "k-10").status_code == 201
    relaxed = [q["sql"] for q in queries.captured_queries if "synchronous_commit" in q["sql"]]
    # The claim and the stored answer; the document's own transaction keeps the default.
    assert len(relaxed) == (2 if connection.vendor == "postgresql" else 0), relaxed


@pytest.mark.django_db
def test_after_24_hours_the_key_is_fresh_again(sk):
    from basalt.operations.models import IdempotencyRecord

    post(sk, {"title": "a"}, "old")
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get().created_at - timedelta(hours=25))
    response = post(sk, {"title": "a"}, "old")
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")
    assert count(sk) == 2


@pytest.mark.django_db
def test_a_claim_left_by_a_dead_process_is_taken_over(sk):
    from django.utils import timezone

    from basalt.operations import idempotency
    from basalt.operations.models import IdempotencyRecord

    post(sk, {"title": "a"}, "dead")
    IdempotencyRecord.objects.update(state="running", lease_until=timezone.now() - timedelta(seconds=1))
    response = post(sk, {"title": "a"}, "dead")
    assert response.status_code == 201 and not response.has_header("Idempotent-Replayed")
    assert idempotency.purge_expired() == 0


@pytest.mark.django_db
def test_reads_and_management_calls_ignore_the_header(sk, project):
    assert sk.get(DOCS, HTTP_IDEMPOTENCY_KEY="r").status_code == 200
    from basalt.operations.models import IdempotencyRecord

    assert IdempotencyRecord.objects.count() == 0


@pytest.mark.live
def test_fifty_concurrent_requests_with_one_key_make_one_effect(tmp_path):
    server = live.start(tmp_path / "data")
    try:
        project = live.make_project(server.url, "Idem")
        live.create_collection(project, POSTS)
        key = str(uuid.uuid4())
        headers = {"X-API-Key": project.secret, "Idempotency-Key": key}

        def send(_):
            with httpx.Client(base_url=server.url, timeout=60) as http:
                return http.post(DOCS, json={"title": "race"}, headers=headers)

        with ThreadPoolExecutor(50) as pool:
            responses = list(pool.map(send, range(50)))
        assert {r.status_code for r in responses} == {201}, {r.status_code: r.text for r in responses}
        assert len({r.json()["id"] for r in responses}) == 1
        assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 49
        with httpx.Client(base_url=server.url, timeout=60, headers={"X-API-Key": project.secret}) as http:
            assert http.get(DOCS, params={"count": "true", "limit": 0}).json()["count"] == 1
            other = http.post(DOCS, json={"title": "other"}, headers={"Idempotency-Key": key})
            assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    finally:
        live.stop(server)

"""Query budgets (SECURITY.md T16): get ≤ 2, create ≤ 4, find ≤ 3 + 1 per expand path, no N+1."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

DOCS = "/api/v1/collections/posts/documents"


def _count(call) -> tuple[int, object]:
    """Statements run, less the SAVEPOINTs that only exist because each test runs inside a transaction."""
    with CaptureQueriesContext(connection) as queries:
        response = call()
    real = [q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    return len(real), response


@pytest.mark.django_db
def test_get_create_update_delete_budgets(pk, record_property):
    pk.get(DOCS + "/warmup0000000000000")  # fills the per-process schema cache
    created, response = _count(lambda: pk.post(DOCS, {"title": "t"}, format="json"))
    assert response.status_code == 201
    doc_id = response.json()["id"]
    got, response = _count(lambda: pk.get(f"{DOCS}/{doc_id}"))
    assert response.status_code == 200
    updated, response = _count(lambda: pk.patch(f"{DOCS}/{doc_id}", {"score": {"__op": "increment"}}, format="json"))
    assert response.status_code == 200
    deleted, response = _count(lambda: pk.delete(f"{DOCS}/{doc_id}"))
    assert response.status_code == 204
    record_property("queries", {"create": created, "get": got, "update": updated, "delete": deleted})
    print(f"queries: create={created} get={got} update={updated} delete={deleted}")
    assert got <= 2
    assert created <= 4
    assert updated <= 5
    assert deleted <= 4


@pytest.mark.django_db
def test_find_budget_is_flat_from_1_to_100_results(pk, secret_client):
    secret_client.post(
        "/api/v1/schema/collections",
        {
            "name": "authors",
            "fields": {"name": {"type": "string"}, "org": {"type": "pointer", "to": "authors"}},
            "permissions": {"get": ["*"], "find": ["*"]},
            "default_acl": "public",
        },
        format="json",
    )
    secret_client.patch(
        "/api/v1/schema/collections/posts", {"fields": {"author": {"type": "pointer", "to": "authors"}}}, format="json"
    )
    org = secret_client.post("/api/v1/collections/authors/documents", {"name": "org"}, format="json").json()
    counts = {}
    for total in (1, 100):
        while len(pk.get(DOCS, {"limit": 1000}).json()["results"]) < total:
            author = secret_client.post(
                "/api/v1/collections/authors/documents", {"name": "a", "org": org["id"]}, format="json"
            ).json()
            pk.post(DOCS, {"title": "t", "author": author["id"]}, format="json")
        plain, response = _count(lambda: pk.get(DOCS, {"limit": 1000, "count": "true"}))
        assert len(response.json()["results"]) == total and response.json()["count"] == total
        expanded, response = _count(lambda: pk.get(DOCS, {"limit": 1000, "expand": "author,author.org"}))
        results = response.json()["results"]
        assert all(r["author"]["org"]["name"] == "org" for r in results)
        counts[total] = (plain, expanded)
    print(f"find queries (plain, expand 2 paths) at 1 and 100 results: {counts}")
    assert counts[1] == counts[100]
    plain, expanded = counts[100]
    assert plain <= 3 and expanded <= 3 + 2

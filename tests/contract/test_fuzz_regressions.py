"""Named regressions for what schema fuzzing found, replayed against the live server."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

pytestmark = pytest.mark.live


@pytest.fixture
def http(live_project):
    with httpx.Client(base_url=live_project.url, headers={"X-API-Key": live_project.secret}, timeout=30) as client:
        yield client


@pytest.fixture
def post_id(http) -> str:
    created = http.post("/api/v1/collections/posts/documents", json={"title": "fuzz"})
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.parametrize("op", [{}, [], 1, None, True])
def test_operation_name_of_the_wrong_type_is_refused_not_a_500(http, post_id, op):
    """`{"__op": {}}` used to raise TypeError (unhashable dict) inside the update: a 500."""
    response = http.patch(f"/api/v1/collections/posts/documents/{post_id}", json={"score": {"__op": op}})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("invalid_operation", "validation_failed")
    assert http.get(f"/api/v1/collections/posts/documents/{post_id}").json()["score"] == 0


def test_dates_before_year_1000_keep_four_digit_years_and_sort_in_time_order(http):
    """Year 183 was rendered "183-10-17T…": not RFC 3339, and stored text sorted after year 2000."""
    tag = uuid.uuid4().hex[:10]
    posts = "/api/v1/collections/posts/documents"
    early = http.post(posts, json={"title": f"early-{tag}", "due": "0183-10-17T23:59:16+16:13"})
    late = http.post(posts, json={"title": f"late-{tag}", "due": "2000-01-01T00:00:00Z"})
    assert early.status_code == late.status_code == 201
    assert early.json()["due"] == "0183-10-17T07:46:16.000Z"
    mine = {"title": {"$in": [f"early-{tag}", f"late-{tag}"]}}
    page = http.get(posts, params={"where": json.dumps(mine), "order": "due"}).json()
    assert [doc["title"] for doc in page["results"]] == [f"early-{tag}", f"late-{tag}"]
    before = {**mine, "due": {"$lt": "1000-01-01T00:00:00Z"}}
    assert [doc["title"] for doc in http.get(posts, params={"where": json.dumps(before)}).json()["results"]] == [
        f"early-{tag}"
    ]


def test_405_names_the_allowed_methods(http, post_id):
    """RFC 9110: a 405 carries Allow; schemathesis flagged its absence on every data route."""
    response = http.request("PUT", f"/api/v1/collections/posts/documents/{post_id}", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET, PATCH"
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert http.request("PUT", "/api/v1/batch").headers["Allow"] == "POST"


def test_null_in_a_create_means_not_given(http):
    """The leniency the fuzz hooks allow for: null takes the default, and a required field stays required."""
    created = http.post("/api/v1/collections/posts/documents", json={"title": "n", "score": None, "tags": None})
    assert created.status_code == 201, created.text
    assert created.json()["score"] == 0 and "tags" not in created.json()
    refused = http.post("/api/v1/collections/posts/documents", json={"title": None})
    assert refused.status_code == 400
    assert "title" in refused.json()["error"]["details"]

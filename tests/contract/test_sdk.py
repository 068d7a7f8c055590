"""The Python SDK (sdk/python, `basalt_sdk`) against a live server: CRUD, ETags, cursors, batch, typed errors."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.contract import live
from tests.contract.conftest import OPEN

try:
    import basalt_sdk
except ImportError:  # the SDK is installed from requirements-dev.txt; make a bare checkout work too
    import sys

    sys.path.insert(0, str(live.ROOT / "sdk/python/src"))
    import basalt_sdk

from basalt_sdk import ops

pytestmark = pytest.mark.live

ITEMS = {
    "name": "sdk_items",
    "fields": {
        "title": {"type": "string", "required": True, "max_length": 100},
        "n": {"type": "number", "default": 0},
        "tags": {"type": "array", "items": "string"},
        "batch": {"type": "string"},
        "author": {"type": "pointer", "to": "authors"},
        "slug": {"type": "string"},
    },
    "indexes": [{"fields": ["slug"], "unique": True}],
    "permissions": OPEN,
    "default_acl": "public",
}
MEMBERS = {
    "name": "sdk_members",
    "fields": {"title": {"type": "string"}},
    "permissions": {"create": ["authenticated"], "get": ["authenticated"], "find": ["authenticated"]},
    "default_acl": "owner",
}


@pytest.fixture(scope="module")
def project(live_project):
    for definition in (ITEMS, MEMBERS):
        live.create_collection(live_project, definition)
    return live_project


@pytest.fixture
def client(project):
    with basalt_sdk.Client(project.url, project.publishable) as sdk:
        yield sdk


@pytest.fixture
def admin(project):
    with basalt_sdk.Client(project.url, project.secret) as sdk:
        yield sdk


def test_create_get_update_delete_round_trip(client, admin):
    items = client.collection("sdk_items")
    author = client.collection("authors").create({"name": "Ada"})
    doc = items.create({"title": "first", "tags": ["a"], "author": author.id})
    assert isinstance(doc, basalt_sdk.Document) and doc["title"] == "first" and doc["n"] == 0
    assert doc.etag and doc.created_at.tzinfo is not None

    fetched = items.get(doc.id, expand="author")
    assert fetched["author"]["name"] == "Ada" and fetched.etag == doc.etag
    assert items.get(doc.id, fields=["title"]).keys() == {"id", "created_at", "updated_at", "acl", "title"}

    updated = items.update(doc, {"n": ops.increment(5), "tags": ops.add_unique("a", "b"), "title": "renamed"})
    assert (updated["n"], updated["tags"], updated["title"]) == (5, ["a", "b"], "renamed")
    assert updated.etag != doc.etag
    assert items.update(doc.id, {"tags": ops.remove("a"), "author": None})["tags"] == ["b"]

    items.delete(doc.id)
    with pytest.raises(basalt_sdk.NotFoundError) as missing:
        admin.collection("sdk_items").get(doc.id)
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert missing.value.request_id


def test_etags_make_reads_cheap_and_lost_updates_impossible(client):
    items = client.collection("sdk_items")
    doc = items.create({"title": "etag"})
    assert items.get(doc.id, if_none_match=doc) is None  # 304: the copy we hold is current

    theirs = items.update(doc.id, {"n": 1})
    with pytest.raises(basalt_sdk.PreconditionFailedError) as stale:
        items.update(doc, {"n": 100}, if_match=doc)
    assert (stale.value.status, stale.value.code) == (412, "precondition_failed")
    with pytest.raises(basalt_sdk.PreconditionFailedError):
        items.delete(doc, if_match=doc)
    assert items.get(doc.id)["n"] == 1  # neither the stale update nor the stale delete happened

    assert items.update(doc.id, {"n": 2}, if_match=theirs)["n"] == 2
    refreshed = items.get(doc.id, if_none_match=theirs)
    assert refreshed is not None and refreshed["n"] == 2


def test_find_pages_by_cursor_without_skipping_or_repeating(client):
    items = client.collection("sdk_items")
    tag = uuid.uuid4().hex[:12]
    made = [items.create({"title": f"t{i:02d}", "n": i, "batch": tag}) for i in range(23)]

    page = items.find({"batch": tag}, order="-n", limit=10, count=True)
    assert [doc["n"] for doc in page] == list(range(22, 12, -1))
    assert page.count == 23 and page.has_more
    second = page.next_page()
    assert second is not None and [doc["n"] for doc in second] == list(range(12, 2, -1))

    walked = [doc.id for doc in items.iterate({"batch": tag}, order=["n"], page_size=7)]
    assert walked == [doc.id for doc in made]
    assert items.count({"batch": tag, "n": {"$gte": 20}}) == 3
    assert items.find({"batch": tag}, limit=5, fields="n").results[0].keys() >= {"id", "n"}


def test_batch_reports_each_result_and_transactions_are_all_or_nothing(client, admin):
    items = client.collection("sdk_items")
    tag = uuid.uuid4().hex[:12]
    keep = items.create({"title": "keep", "batch": tag})
    results = client.batch(
        [
            items.create_request({"title": "made", "batch": tag}),
            items.create_request({"title": 5}),
            items.update_request(keep.id, {"n": ops.increment(3)}),
            items.get_request("no-such-id"),
            items.query_request({"batch": tag}, order=["title"]),
        ]
    )
    assert [r.status for r in results] == [201, 400, 200, 404, 200]
    assert results[0].document is not None and results[0].document["title"] == "made"
    assert isinstance(results[1].error, basalt_sdk.ValidationFailedError) and "title" in results[1].error.details
    assert isinstance(results[3].error, basalt_sdk.NotFoundError)
    assert [d["title"] for d in results[4].body["results"]] == ["keep", "made"]

    with pytest.raises(basalt_sdk.ValidationFailedError) as failed:
        client.batch(
            [items.create_request({"title": "ghost", "batch": tag}), items.create_request({"nope": 1})],
            transaction=True,
        )
    assert failed.value.details["index"] == 1
    assert items.count({"batch": tag}) == 2  # the ghost of the failed transaction was not written


def test_errors_are_typed_from_the_json_contract(client, admin, project):
    items = client.collection("sdk_items")
    with pytest.raises(basalt_sdk.ValidationFailedError) as invalid:
        items.create({"title": "x" * 101})
    assert invalid.value.status == 400 and "title" in invalid.value.details
    with pytest.raises(basalt_sdk.InvalidQueryError) as bad_query:
        items.find({"title": {"$where": "1"}})
    assert bad_query.value.code == "invalid_query"
    with pytest.raises(basalt_sdk.PermissionDeniedError):
        client.collection("ledger").create({"amount": 1})
    with pytest.raises(basalt_sdk.NotFoundError):
        client.collection("no_such_collection").find()
    with basalt_sdk.Client(project.url, "pk_not_a_key") as stranger:
        with pytest.raises(basalt_sdk.AuthenticationError) as unknown_key:
            stranger.collection("sdk_items").find()
    assert unknown_key.value.code == "invalid_api_key" and unknown_key.value.status == 401
    slug = uuid.uuid4().hex
    admin.collection("sdk_items").create({"title": "u", "slug": slug})
    with pytest.raises(basalt_sdk.UniqueViolationError) as duplicate:
        admin.collection("sdk_items").create({"title": "u2", "slug": slug})
    assert duplicate.value.status == 409 and isinstance(duplicate.value, basalt_sdk.ConflictError)


def test_access_token_acts_as_the_signed_in_end_user(client, admin, project):
    members = client.collection("sdk_members")
    with pytest.raises(basalt_sdk.PermissionDeniedError):
        members.create({"title": "anonymous"})
    signup = httpx.post(
        f"{project.url}/api/v1/auth/signup",
        json={"email": f"user-{uuid.uuid4().hex[:8]}@example.com", "password": "an end-user passphrase"},
        headers={"X-API-Key": project.publishable},
        timeout=30,
    )
    assert signup.status_code == 201, signup.text
    user_id = signup.json()["user"]["id"]
    client.access_token = signup.json()["access_token"]
    title = f"mine-{uuid.uuid4().hex[:8]}"
    mine = members.create({"title": title})
    assert mine.acl == {user_id: {"read": True, "write": True}}
    assert [doc.id for doc in members.iterate({"title": title})] == [mine.id]
    assert admin.collection("sdk_members").get(mine.id)["title"] == title
    client.access_token = "not.a.token"
    with pytest.raises(basalt_sdk.AuthenticationError) as forged:
        members.find()
    assert forged.value.code == "invalid_token"


def test_non_contract_and_rate_limit_answers_still_raise_typed_errors():
    """A proxy's HTML 502 and a 429 with Retry-After, served by a stand-in transport (no server)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/query"):
            return httpx.Response(502, text="<html>Bad gateway</html>")
        return httpx.Response(
            429,
            json={"error": {"code": "rate_limited", "message": "slow down"}},
            headers={"Retry-After": "7", "X-Request-Id": "abc"},
        )

    with basalt_sdk.Client("http://basalt.invalid", "pk_x", transport=httpx.MockTransport(answer)) as sdk:
        with pytest.raises(basalt_sdk.BasaltError) as gateway:
            sdk.collection("posts").find()
        assert (gateway.value.status, gateway.value.code) == (502, "http_502")
        with pytest.raises(basalt_sdk.RateLimitedError) as limited:
            sdk.collection("posts").create({"title": "x"})
        assert (limited.value.retry_after, limited.value.request_id) == (7.0, "abc")
    with pytest.raises(ValueError):
        basalt_sdk.Client("http://basalt.invalid", "")


def test_idempotency_key_makes_a_retried_write_happen_once(admin):
    """A create, an increment and a delete retried with their keys each take effect once."""
    items = admin.collection("sdk_items")
    key = f"create-{uuid.uuid4()}"
    first = items.create({"title": "idem"}, idempotency_key=key)
    again = items.create({"title": "idem"}, idempotency_key=key)
    assert again.id == first.id
    bump = f"bump-{uuid.uuid4()}"
    items.update(first.id, {"n": ops.increment(5)}, idempotency_key=bump)
    assert items.update(first.id, {"n": ops.increment(5)}, idempotency_key=bump)["n"] == 5
    assert items.get(first.id)["n"] == 5
    gone = f"delete-{uuid.uuid4()}"
    items.delete(first.id, idempotency_key=gone)
    items.delete(first.id, idempotency_key=gone)  # replayed 204, not NotFoundError
    with pytest.raises(basalt_sdk.IdempotencyKeyReusedError) as info:
        items.create({"title": "other"}, idempotency_key=key)
    assert info.value.status == 422

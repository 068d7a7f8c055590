"""Issue 8, query side: catastrophic regexes, unbounded finds and batches, `$search` poisoning,
protected fields told apart from unknown ones, and cursors that carried sort values in clear."""

from __future__ import annotations

import base64
import json
import random
import string

import pytest
from django.db import connection, transaction

from basalt.core.errors import InvalidQuery
from tests.documents.conftest import key_client
from tests.foundation.conftest import assert_error

DOCS = "/api/v1/collections/posts/documents"
ISSUE_PATTERN = ".{0,20}.{0,20}.{0,20}.{0,20}.{0,20}.{0,20}Z"
pytestmark = pytest.mark.django_db


def find(client, **params):
    return client.get(DOCS, {k: json.dumps(v) if k == "where" else v for k, v in params.items()})


# --- 1. regular expressions ------------------------------------------------------------------


def test_the_issue_regex_answers_with_a_result_on_a_long_text(pk):
    """The pattern that froze the embedded server for 22 s is evaluated in linear time (RE2 on
    SQLite, PostgreSQL's own engine): a plain answer, found or not."""
    long_text = "a" * 150 + "Z"
    pk.post(DOCS, {"title": "hit", "meta": {"body": long_text}}, format="json")
    pk.post(DOCS, {"title": "miss", "meta": {"body": "a" * 50_000}}, format="json")
    response = find(pk, where={"meta.body": {"$regex": ISSUE_PATTERN}})
    assert response.status_code == 200, response.content[:300]
    assert [d["title"] for d in response.json()["results"]] == ["hit"]


def test_regex_keeps_the_subset_semantics_of_both_engines(pk):
    """Unicode classes, `.` across a newline and `$` only at the very end: the same on both databases."""
    for title in ("été", "line\nbreak", "ends\n", "x_1"):
        pk.post(DOCS, {"title": title}, format="json")

    def titles(pattern, options=""):
        where = {"title": {"$regex": pattern, **({"$options": options} if options else {})}}
        response = find(pk, where=where, order="title")
        assert response.status_code == 200, response.content[:300]
        return sorted(d["title"] for d in response.json()["results"])

    assert titles(r"^\w+$") == ["x_1", "été"]
    assert titles("^line.break$") == ["line\nbreak"]
    assert titles("ends$") == []
    assert titles("ÉTÉ", "i") == ["été"]
    assert titles(r"[\w]\d$") == ["x_1"]
    response = find(pk, where={"title": {"$regex": r"[\W]"}})
    assert_error(response, 400, "invalid_query")


def test_a_query_past_its_time_budget_is_stopped_by_the_database(db, settings):
    """The time bound is enforced inside the database (SQLite progress handler, PostgreSQL
    statement_timeout): a statement that would never end is interrupted, a clear 400."""
    from basalt.documents.query import budget
    from basalt.documents.query.dialects import current_dialect
    from basalt.documents.query.engine import _execute

    settings.QUERY_TIMEOUT_MS = 200
    endless = (
        "SELECT pg_sleep(30)"
        if connection.vendor == "postgresql"
        else "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c"
    )
    # A savepoint, as a cancelled statement fails the transaction the test runs in.
    with pytest.raises(InvalidQuery) as caught, transaction.atomic():
        _execute(current_dialect(), [(endless, [])], budget.for_query())
    error = caught.value
    assert error.status == 400 and error.code == "invalid_query"
    assert error.details["reason"] == "timeout"
    with connection.cursor() as cursor:  # the connection is still usable afterwards
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


# --- 6. bounded finds and batches ------------------------------------------------------------


def _filler(n: int) -> str:
    return "".join(random.choices(string.ascii_letters, k=n))


def test_a_find_larger_than_its_byte_bound_is_refused(pk, settings):
    settings.FIND_MAX_RESPONSE_BYTES = 20_000
    for _ in range(10):
        pk.post(DOCS, {"title": "big", "meta": {"blob": _filler(3000)}}, format="json")
    response = find(pk, limit=1000)
    error = assert_error(response, 400, "invalid_query")
    assert error["details"]["reason"] == "too_large" and error["details"]["max_bytes"] == 20_000
    small = find(pk, limit=5)
    assert small.status_code == 200 and len(small.json()["results"]) == 5
    # A page of one (two rows fetched: PostgreSQL does not cut those in SQL) is refused the same way.
    settings.FIND_MAX_RESPONSE_BYTES = 2_000
    for params in ({"limit": 1}, {"limit": 1, "count": "true"}):
        error = assert_error(find(pk, **params), 400, "invalid_query")
        assert error["details"]["reason"] == "too_large" and error["details"]["max_bytes"] == 2_000


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite streams rows; PostgreSQL's client holds a result")
def test_postgres_stops_sending_rows_past_the_byte_bound(pk, project):
    """psycopg receives a whole result at once, so the page is cut in SQL: memory stays bounded."""
    from basalt.documents.models import Collection
    from basalt.documents.query import parse_query
    from basalt.documents.query.compiler import Compiler
    from basalt.documents.query.dialects import current_dialect

    for _ in range(10):
        pk.post(DOCS, {"title": "big", "meta": {"blob": _filler(3000)}}, format="json")
    posts = Collection.objects.get(project=project.project, name="posts")
    query = parse_query(posts, {"limit": 1000}, {})
    sql, params = Compiler(current_dialect(), posts).select(query, None, 1001, max_bytes=7000)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    assert len(rows) == 3  # two rows fit; the third crosses the bound and tells the engine so


def test_expanding_one_large_target_into_many_documents_is_charged_per_copy(pk, sk, secret_client, settings):
    secret_client.patch(
        "/api/v1/schema/collections/posts", {"fields": {"parent": {"type": "pointer", "to": "posts"}}}, format="json"
    )
    big = pk.post(DOCS, {"title": "big", "meta": {"blob": _filler(5000)}}, format="json").json()
    for _ in range(20):
        pk.post(DOCS, {"title": "child", "parent": big["id"]}, format="json")
    settings.FIND_MAX_RESPONSE_BYTES = 40_000
    response = find(pk, where={"title": "child"}, limit=100, expand="parent")
    assert_error(response, 400, "invalid_query")
    assert find(pk, where={"title": "child"}, limit=100).status_code == 200


def test_a_batch_shares_one_byte_allowance_across_its_finds(pk, settings):
    """100 × limit 1000 once answered 115 MB: now the batch's results stop at its allowance."""
    settings.BATCH_MAX_RESPONSE_BYTES = 50_000
    for _ in range(20):
        pk.post(DOCS, {"title": "t", "meta": {"blob": _filler(1000)}}, format="json")
    requests = [{"method": "GET", "path": f"{DOCS}?limit=1000"} for _ in range(100)]
    response = pk.post("/api/v1/batch", {"requests": requests}, format="json")
    assert response.status_code == 200
    assert len(response.content) < 50_000 + 100 * 400  # the allowance plus one short error per request
    results = response.json()["results"]
    assert results[0]["status"] == 200
    refused = [r for r in results if r["status"] != 200]
    assert refused and all(r["body"]["error"]["details"]["scope"] == "batch" for r in refused)

    atomic = pk.post("/api/v1/batch", {"transaction": True, "requests": requests}, format="json")
    error = assert_error(atomic, 400, "invalid_query")
    assert error["details"]["reason"] == "too_large" and error["details"]["index"] >= 1


def test_a_write_after_the_batch_allowance_is_spent_still_reports_what_it_did(pk, settings):
    settings.BATCH_MAX_RESPONSE_BYTES = 5_000
    for _ in range(10):
        pk.post(DOCS, {"title": "t", "meta": {"blob": _filler(1000)}}, format="json")
    requests = [
        {"method": "GET", "path": f"{DOCS}?limit=3"},
        {"method": "GET", "path": f"{DOCS}?limit=3"},
        {"method": "POST", "path": DOCS, "body": {"title": "written"}},
    ]
    results = pk.post("/api/v1/batch", {"requests": requests}, format="json").json()["results"]
    assert [r["status"] for r in results] == [200, 400, 201]
    assert find(pk, where={"title": "written"}).json()["results"][0]["id"] == results[2]["body"]["id"]


def test_a_batch_shares_one_deadline(pk, settings):
    settings.BATCH_TIMEOUT_MS = 0
    response = pk.post("/api/v1/batch", {"requests": [{"method": "GET", "path": DOCS}]}, format="json")
    result = response.json()["results"][0]
    assert result["status"] == 400 and result["body"]["error"]["details"]["reason"] == "timeout"


# --- 7. $search poisoning and database errors that are not outages ---------------------------


def test_one_huge_text_does_not_break_search_of_its_collection(pk, secret_client):
    """~900 KB of distinct words made PostgreSQL's to_tsvector fail ("tsvector too long") on
    every `$search` of the collection, answered as 503: searches keep working, and find it too."""
    secret_client.patch("/api/v1/schema/collections/posts", {"fields": {"body": {"type": "string"}}}, format="json")
    words = " ".join(f"w{i:06d}x" for i in range(90_000))
    assert len(words) > 800_000
    poison = pk.post(DOCS, {"title": "poison", "body": words}, format="json")
    assert poison.status_code == 201, poison.content[:300]
    pk.post(DOCS, {"title": "greeting", "body": "hello world"}, format="json")
    response = find(pk, where={"body": {"$search": "hello"}}, fields="title")
    assert response.status_code == 200, response.content[:300]
    assert [d["title"] for d in response.json()["results"]] == ["greeting"]
    response = find(pk, where={"body": {"$search": "W089999X w000000x"}}, fields="title")
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_database_failures_are_classified_by_cause_not_by_driver_class():
    import sqlite3

    from django.db import OperationalError

    from basalt.core.errors import to_basalt_error

    def wrapped(cause):
        error = OperationalError(str(cause))
        error.__cause__ = cause
        return to_basalt_error(error)

    def sqlite_error(message, code):
        cause = sqlite3.OperationalError(message)
        cause.sqlite_errorcode = code
        return cause

    class PgError(Exception):
        def __init__(self, sqlstate):
            self.sqlstate = sqlstate

    assert wrapped(PgError("54000")).status == 400  # tsvector too long, index row too big
    assert wrapped(PgError("57014")).status == 400  # our statement_timeout
    assert wrapped(PgError("40P01")).status == 409  # deadlock: retry
    assert wrapped(PgError("08006")).status == 503  # connection failure
    assert wrapped(PgError("53300")).status == 503  # too many connections
    assert wrapped(PgError("57P01")).status == 503  # administrator shutdown
    assert wrapped(sqlite_error("interrupted", sqlite3.SQLITE_INTERRUPT)).status == 400
    assert wrapped(sqlite_error("string or blob too big", sqlite3.SQLITE_TOOBIG)).status == 400
    assert wrapped(sqlite_error("database is locked", sqlite3.SQLITE_BUSY)).status == 503
    assert wrapped(sqlite_error("no such table: x", sqlite3.SQLITE_ERROR)) is None  # our bug: a logged 500


# --- 9. protected fields and cursors ---------------------------------------------------------


@pytest.fixture
def twins(make_collection, project):
    """Two collections alike but for `secret`: protected in one, absent from the other."""
    base = {
        "fields": {"title": {"type": "string"}, "owner": {"type": "pointer", "to": "users"}},
        "permissions": {op: ["*"] for op in ("get", "find", "count", "create")},
        "default_acl": "public",
    }
    make_collection(
        {
            **base,
            "name": "guarded",
            "fields": {**base["fields"], "secret": {"type": "number"}, "link": {"type": "pointer", "to": "guarded"}},
            "protected_fields": {"*": ["secret", "link"]},
        }
    )
    make_collection({**base, "name": "plain"})
    return key_client(project.publishable)


@pytest.mark.parametrize(
    "params",
    [
        {"where": {"secret": 1}},
        {"where": {"secret": {"$regex": "x"}}},  # an operator the number type does not take
        {"where": {"secret": {"$gt": "not a number"}}},
        {"where": {"$or": [{"title": "a"}, {"secret.deep": 1}]}},
        {"order": "-secret"},
        {"fields": "title,secret"},
        {"expand": "link"},
    ],
)
def test_a_protected_field_answers_exactly_like_an_unknown_one(twins, params):
    encoded = {k: json.dumps(v) if k == "where" else v for k, v in params.items()}
    guarded = twins.get("/api/v1/collections/guarded/documents", encoded)
    plain = twins.get("/api/v1/collections/plain/documents", encoded)
    assert guarded.status_code == plain.status_code == 400
    assert guarded.json() == plain.json()
    body = twins.post("/api/v1/collections/guarded/query", params, format="json")
    assert body.json() == plain.json()


def test_a_protected_pointer_cannot_be_expanded_on_get_either(twins, project):
    secret = key_client(project.secret)
    doc = secret.post("/api/v1/collections/guarded/documents", {"title": "t"}, format="json").json()
    plain = secret.post("/api/v1/collections/plain/documents", {"title": "t"}, format="json").json()
    guarded = twins.get(f"/api/v1/collections/guarded/documents/{doc['id']}", {"expand": "link"})
    other = twins.get(f"/api/v1/collections/plain/documents/{plain['id']}", {"expand": "link"})
    assert guarded.status_code == other.status_code == 400
    assert guarded.json() == other.json()


def test_cursors_carry_no_sort_value_in_clear_and_are_bound_to_their_query(pk, make_project):
    for title in ("Sensitive-Value-123", "Sensitive-Value-456"):
        pk.post(DOCS, {"title": title, "score": 1}, format="json")
    first = find(pk, order="title", limit=1).json()
    cursor = first["next_cursor"]
    decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    assert b"Sensitive" not in decoded and b"Sensitive" not in cursor.encode()
    assert "Sensitive" not in cursor

    second = find(pk, order="title", limit=1, cursor=cursor).json()
    assert [d["title"] for d in second["results"]] == ["Sensitive-Value-456"]
    # Another `where`, another order, a tampered token, another project: one clear 400 each.
    assert_error(find(pk, order="title", limit=1, cursor=cursor, where={"score": 1}), 400, "invalid_query")
    assert_error(find(pk, order="-title", limit=1, cursor=cursor), 400, "invalid_query")
    middle = len(cursor) // 2
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    assert_error(find(pk, order="title", limit=1, cursor=tampered), 400, "invalid_query")
    other = make_project("Other")
    other_secret = key_client(other.secret)
    from tests.documents.conftest import POSTS

    assert other_secret.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    assert_error(find(key_client(other.publishable), order="title", limit=1, cursor=cursor), 400, "invalid_query")


# --- 6. times at the edges of what a datetime holds ------------------------------------------


@pytest.mark.parametrize("field", ["created_at", "updated_at", "due"])
@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_whose_offset_carries_it_past_year_1_or_9999_is_a_400(pk, field, moment):
    """Year 0 or 10000 in UTC: converting the operand raised OverflowError, a 500 (system fields)."""
    response = find(pk, where={field: {"$gt": moment}})
    assert_error(response, 400, "invalid_query")
    assert response.json()["error"]["details"] == {"field": field}
    assert find(pk, where={field: {"$gt": "0001-01-01T00:00:00Z"}}).status_code == 200

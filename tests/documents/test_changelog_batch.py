"""Change log (one row per committed write, none for refused ones) and /batch (API.md §3)."""

from __future__ import annotations

import pytest

from tests.documents.conftest import key_client, refuse_writes_titled

DOCS = "/api/v1/collections/posts/documents"


def _log(project):
    from basalt.documents import changefeed
    from basalt.documents.models import ChangeLogEntry

    # A write that found the sequencer taken (by a settler pass of an earlier write) is numbered by
    # its process's settler just after its commit.
    assert changefeed.wait_settled(30)
    return list(ChangeLogEntry.objects.filter(project=project.project).order_by("seq"))


# Committed writes: on PostgreSQL a row is numbered as its transaction commits.
@pytest.mark.django_db(transaction=True)
def test_one_change_row_per_write_in_seq_order(project, pk):
    doc = pk.post(DOCS, {"title": "a"}, format="json").json()
    pk.patch(f"{DOCS}/{doc['id']}", {"title": "b"}, format="json")
    pk.delete(f"{DOCS}/{doc['id']}")
    rows = _log(project)
    assert [(r.seq, r.type, r.document_id, r.collection) for r in rows] == [
        (1, "create", doc["id"], "posts"),
        (2, "update", doc["id"], "posts"),
        (3, "delete", doc["id"], "posts"),
    ]
    assert rows[0].after["title"] == "a" and rows[0].before is None
    assert rows[1].before["title"] == "a" and rows[1].after["title"] == "b"
    assert rows[2].before["title"] == "b" and rows[2].after is None
    from basalt.projects.models import Project

    assert Project.objects.get(pk=project.project.pk).change_sequence.change_seq == 3


@pytest.mark.django_db
def test_refused_writes_leave_no_change_rows(project, pk):
    doc = pk.post(DOCS, {"title": "a", "acl": {"*": {"read": True}}}, format="json").json()
    before = _log(project)
    assert pk.post(DOCS, {"title": 5}, format="json").status_code == 400
    assert pk.patch(f"{DOCS}/{doc['id']}", {"title": "b"}, format="json").status_code == 403
    assert pk.delete(f"{DOCS}/{doc['id']}").status_code == 403
    assert pk.patch(f"{DOCS}/{doc['id']}", {"title": "b"}, format="json", HTTP_IF_MATCH='"9"').status_code in (403, 412)
    assert pk.delete(f"{DOCS}/nope").status_code == 404
    assert _log(project) == before
    assert pk.get(f"{DOCS}/{doc['id']}").json()["title"] == "a"


@pytest.mark.django_db
def test_unique_index_violation_names_the_field(project, pk):
    first = pk.post(DOCS, {"title": "a", "slug": "s"}, format="json")
    assert first.status_code == 201
    _wait_for_indexes(project)
    second = pk.post(DOCS, {"title": "b", "slug": "s"}, format="json")
    assert second.status_code == 409, second.content
    assert second.json()["error"]["code"] == "unique_violation" and "slug" in second.json()["error"]["details"]
    other = pk.post(DOCS, {"title": "c", "slug": "t"}, format="json").json()
    clash = pk.patch(f"{DOCS}/{other['id']}", {"slug": "s"}, format="json")
    assert clash.status_code == 409 and "slug" in clash.json()["error"]["details"]
    assert len(_log(project)) == 2


def _wait_for_indexes(project):
    """PostgreSQL builds unique indexes in a job; tests run it inline when no worker is there."""
    from basalt.documents.models import CollectionIndex

    try:
        from basalt.documents import indexes
    except ImportError:
        return
    from django.db import connection

    if connection.vendor == "postgresql":
        # Django's deferred FK checks would make PostgreSQL refuse DDL in the test's transaction.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for row in CollectionIndex.objects.filter(collection__project=project.project, status=CollectionIndex.PENDING):
        assert indexes.build_index(row.id) == CollectionIndex.READY


@pytest.mark.django_db
def test_batch_without_transaction_reports_each_result(project, pk):
    body = {
        "requests": [
            {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": "a"}},
            {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": 5}},
            {"method": "GET", "path": "/api/v1/collections/posts/documents?limit=10"},
        ]
    }
    response = pk.post("/api/v1/batch", body, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 200]
    assert results[1]["body"]["error"]["code"] == "validation_failed"
    assert [d["title"] for d in results[2]["body"]["results"]] == ["a"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"title": "a\x00b"}, "title"),
        ({"title": "t", "meta": {"k\x00": 1}}, "meta"),
        ({"title": "t", "tags": ["\x00"]}, "tags"),
    ],
)
def test_nul_text_in_a_loose_batch_is_that_sub_requests_400(project, pk, bad, field):
    """PostgreSQL cannot store U+0000, and a loose batch writes its creates without savepoints: NUL
    failed the whole batch there (400, nothing written) and was stored on SQLite. It is refused in
    validation on both, naming the field, and the other writes commit."""
    from basalt.documents.models import Document

    post = "/api/v1/collections/posts/documents"
    requests = [{"method": "POST", "path": post, "body": body} for body in ({"title": "a"}, bad, {"title": "b"})]
    response = pk.post("/api/v1/batch", {"requests": requests}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201]
    error = results[1]["body"]["error"]
    assert error["code"] == "validation_failed" and list(error["details"]) == [field]
    titles = Document.objects.filter(collection__name="posts").values_list("data__title", flat=True)
    assert sorted(titles) == ["a", "b"]


@pytest.mark.django_db(transaction=True)
def test_a_write_the_database_refuses_in_a_loose_batch_is_that_sub_requests_400(project, pk, monkeypatch):
    """A value the database refuses (past validation) failed the whole loose batch with a 400 and
    nothing written. Now only its sub-request fails, with nothing of it written (no document, no
    change-log row), and the others commit, numbered in order: on PostgreSQL the refused statement
    spent the transaction, so the batch ran again with a savepoint around each sub-request."""
    from basalt.documents.models import Document

    refuse_writes_titled(monkeypatch, "refused")
    requests = [{"method": "POST", "path": DOCS, "body": {"title": title}} for title in ("a", "refused", "b")] + [
        {"method": "GET", "path": DOCS + "?order=title"}
    ]
    response = pk.post("/api/v1/batch", {"requests": requests}, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201, 200]
    assert results[1]["body"]["error"]["code"] == "validation_failed"
    assert [d["title"] for d in results[3]["body"]["results"]] == ["a", "b"]
    assert sorted(Document.objects.filter(collection__name="posts").values_list("data__title", flat=True)) == ["a", "b"]
    created = [results[0]["body"]["id"], results[2]["body"]["id"]]
    assert [(row.seq, row.document_id) for row in _log(project)] == [(1, created[0]), (2, created[1])]


@pytest.mark.django_db(transaction=True)
def test_loose_batch_commits_once_and_numbers_every_write(project, pk):
    """Each write of a loose batch stands alone (a refused one leaves nothing, a unique clash
    only fails itself), and the survivors commit together, numbered in order."""
    secret = key_client(project.secret)
    indexes = {"indexes": [{"fields": ["slug"], "unique": True}]}
    assert secret.patch("/api/v1/schema/collections/posts", indexes, format="json").status_code == 200
    post = "/api/v1/collections/posts/documents"
    body = {
        "requests": [
            {"method": "POST", "path": post, "body": {"title": "a", "slug": "s1"}},
            {"method": "POST", "path": post, "body": {"title": 5}},
            {"method": "POST", "path": post, "body": {"title": "dup", "slug": "s1"}},
            {"method": "POST", "path": post, "body": {"title": "b", "slug": "s2"}},
            {"method": "GET", "path": post + "?order=title"},
        ]
    }
    response = pk.post("/api/v1/batch", body, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 409, 201, 200]
    assert [d["title"] for d in results[4]["body"]["results"]] == ["a", "b"]
    created = [results[0]["body"]["id"], results[3]["body"]["id"]]
    assert [(row.seq, row.document_id) for row in _log(project)] == [(1, created[0]), (2, created[1])]


@pytest.mark.django_db(transaction=True)
def test_a_loose_batch_writes_each_create_in_one_statement_where_nothing_can_refuse_it(project, pk, monkeypatch):
    """PostgreSQL, a collection without a unique index: each create of a batch is one statement (the
    document and its change-log row) with no savepoint of its own; a refused one still leaves
    nothing, the rest commit together numbered in order, and a database failure (a clashing id)
    fails the whole batch with nothing written."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from basalt.documents import services
    from basalt.documents.models import Document

    secret = key_client(project.secret)
    assert secret.patch("/api/v1/schema/collections/posts", {"indexes": []}, format="json").status_code == 200
    post = "/api/v1/collections/posts/documents"
    body = {
        "requests": [
            {"method": "POST", "path": post, "body": {"title": "a"}},
            {"method": "POST", "path": post, "body": {"title": 5}},
            {"method": "POST", "path": post, "body": {"title": "b"}},
            {"method": "GET", "path": post + "?order=title"},
        ]
    }
    with CaptureQueriesContext(connection) as queries:
        response = pk.post("/api/v1/batch", body, format="json")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 400, 201, 200]
    assert [d["title"] for d in results[3]["body"]["results"]] == ["a", "b"]
    created = [results[0]["body"]["id"], results[2]["body"]["id"]]
    assert [(row.seq, row.document_id) for row in _log(project)] == [(1, created[0]), (2, created[1])]
    if connection.vendor == "postgresql":
        statements = [q["sql"] for q in queries.captured_queries]
        writes = [sql for sql in statements if "INSERT INTO basalt_document" in sql]
        assert len(writes) == 2 and all("INSERT INTO basalt_change_log" in sql for sql in writes), writes
        assert sum(sql.startswith("SAVEPOINT") for sql in statements) == 1, statements  # the GET's own

    monkeypatch.setattr(services, "new_document_id", lambda: "clashing-id-0000000")
    clash = pk.post("/api/v1/batch", {"requests": [body["requests"][0]] * 3}, format="json")
    assert clash.status_code >= 400 and "error" in clash.json(), clash.content
    assert Document.objects.filter(collection__name="posts").count() == 2
    assert len(_log(project)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_database_failure_in_a_loose_batch_writes_none_of_it(project, pk, monkeypatch):
    from django.db import OperationalError

    from basalt.documents import services
    from basalt.documents.models import Document

    real_create, calls = services.create_document, []

    def fails_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OperationalError("the connection was lost")
        return real_create(*args, **kwargs)

    monkeypatch.setattr(services, "create_document", fails_third)
    post = {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": "t"}}
    response = pk.post("/api/v1/batch", {"requests": [post] * 4}, format="json")
    assert response.status_code == 503 and response.json()["error"]["code"] == "unavailable"
    assert Document.objects.filter(collection__name="posts").count() == 0
    assert _log(project) == []


@pytest.mark.django_db
def test_transactional_batch_is_all_or_nothing(project, pk):
    from basalt.documents.models import Document

    doc = pk.post(DOCS, {"title": "keep"}, format="json").json()
    log_before = _log(project)
    body = {
        "transaction": True,
        "requests": [
            {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": "a"}},
            {"method": "PATCH", "path": f"/api/v1/collections/posts/documents/{doc['id']}", "body": {"title": "x"}},
            {"method": "POST", "path": "/api/v1/collections/posts/documents", "body": {"title": 5}},
        ],
    }
    response = pk.post("/api/v1/batch", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["details"]["index"] == 2
    assert Document.objects.count() == 1 and pk.get(f"{DOCS}/{doc['id']}").json()["title"] == "keep"
    assert _log(project) == log_before
    body["requests"].pop()
    ok = pk.post("/api/v1/batch", body, format="json")
    assert [r["status"] for r in ok.json()["results"]] == [201, 200]
    assert Document.objects.count() == 2


@pytest.mark.django_db
def test_batch_subrequests_go_through_the_same_checks(project, secret_client, pk):
    secret_client.post("/api/v1/schema/collections", {"name": "locked"}, format="json")
    body = {
        "requests": [
            {"method": "POST", "path": "/api/v1/collections/locked/documents", "body": {}},
            {"method": "GET", "path": "/api/v1/schema/collections"},
            {"method": "POST", "path": "/api/v1/batch", "body": {"requests": []}},
            {"method": "GET", "path": "/api/v1/manage/projects"},
            {"method": "PUT", "path": "/api/v1/collections/posts/documents/abc"},
            {"method": "GET", "path": "/api/v1/collections/posts/documents/../../schema/collections"},
            {"method": 5, "path": None},
            {"method": "GET", "path": "/api/v1/collections/posts/documents?where=notjson"},
        ]
    }
    results = pk.post("/api/v1/batch", body, format="json").json()["results"]
    assert [r["status"] for r in results] == [403, 404, 404, 404, 405, 404, 400, 400]
    assert [r["body"]["error"]["code"] for r in results][:1] == ["permission_denied"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"requests": []},
        {"requests": "x"},
        {"requests": [{"method": "GET", "path": "/api/v1/collections/posts/documents"}] * 101},
        {"transaction": "yes", "requests": [{"method": "GET", "path": "/x"}]},
        {"requests": [{"method": "GET", "path": "/x"}], "extra": 1},
        [],
    ],
)
def test_batch_shape_is_validated(pk, body):
    response = pk.post("/api/v1/batch", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"


@pytest.mark.django_db
def test_batch_needs_a_key(posts, api):
    assert api.post("/api/v1/batch", {"requests": []}, format="json").status_code == 401
    assert key_client("sk_forged").post("/api/v1/batch", {"requests": []}, format="json").status_code == 401

"""Plans that do not depend on luck: array indexes serve containment, builds never deadlock.

An index declared on an array field is a GIN index on the compiler's own expression, so
`$contains`, `$all` and `$in` on the array can use it; two builds at once on the shared documents
table wait for each other instead of one failing with "deadlock detected".
"""

from __future__ import annotations

import re
import threading

import pytest
from django.db import connection, connections

from basalt.documents import indexes
from basalt.documents.models import Collection, CollectionIndex
from basalt.documents.query import parse_query, run_count, run_find
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.dialects import current_dialect
from basalt.documents.query.nodes import FieldRef, Query
from tests.documents.conftest import key_client

SCHEMA = "/api/v1/schema/collections"
DOCS = "/api/v1/collections/items/documents"
ITEMS = {
    "name": "items",
    "fields": {"tags": {"type": "array", "items": "string"}, "score": {"type": "number"}, "n": {"type": "number"}},
    "indexes": [{"fields": ["tags"]}, {"fields": ["-score"]}],
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create")},
    "default_acl": "public",
}
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'")


def _find(client, where: dict) -> set[int]:
    import json

    response = client.get(DOCS, {"where": json.dumps(where), "limit": 100})
    assert response.status_code == 200, response.content
    return {doc["n"] for doc in response.json()["results"]}


@pytest.mark.django_db
def test_in_contains_and_all_on_an_array_field_match_element_semantics(project, secret_client, eager_celery):
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    pk = key_client(project.publishable)
    rows = [["a"], ["a", "b"], ["c"], [], ["x"], ["true"]]
    for n, tags in enumerate(rows):
        assert secret_client.post(DOCS, {"n": n, "tags": tags}, format="json").status_code == 201
    assert secret_client.post(DOCS, {"n": 99}, format="json").status_code == 201  # no tags at all
    assert _find(pk, {"tags": {"$in": ["a", "c"]}}) == {0, 1, 2}
    assert _find(pk, {"tags": {"$in": ["b"]}}) == {1}
    assert _find(pk, {"tags": {"$nin": ["a"]}}) == {2, 3, 4, 5, 99}
    assert _find(pk, {"tags": {"$contains": "a"}}) == {0, 1}
    assert _find(pk, {"tags": {"$all": ["a", "b"]}}) == {1}
    assert _find(pk, {"$or": [{"tags": {"$contains": "b"}}, {"tags": {"$contains": "c"}}]}) == {1, 2}
    assert _find(pk, {"tags": {"$in": ["true"]}}) == {5}  # the string, not the boolean


@postgres_only
@pytest.mark.django_db
def test_an_array_index_is_gin_on_the_compilers_expression_and_is_used(
    project, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        body = {**ITEMS, "indexes": [{"fields": ["tags"]}]}
        assert secret_client.post(SCHEMA, body, format="json").status_code == 201
    row = CollectionIndex.objects.get(collection__name="items", fields=["tags"])
    assert row.status == CollectionIndex.READY
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [row.db_name])
        definition = cursor.fetchone()[0]
    assert "USING gin" in definition and "jsonb_path_ops" in definition
    with connection.cursor() as cursor:  # enough documents, with statistics, for a real plan
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'seed' || g, %s, %s, jsonb_build_object('tags', jsonb_build_array('x' || (g %% 500))), "
            "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now(), now(), 1 FROM generate_series(1, 5000) g",
            [project.project.pk, row.collection_id],
        )
    indexes.add_statistics([row])  # what a collection of this size gets (statistics.large_enough)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE basalt_document")
    assert _has_statistics(row.db_name)
    ref = FieldRef(("tags",), "array", items="string")
    for sql, params in (
        current_dialect().contains(ref, ("x7",)),
        current_dialect().any_of(ref, ("x7", "x8")),
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                f"EXPLAIN SELECT id FROM basalt_document WHERE collection_id = %s AND {sql}",  # noqa: S608
                [row.collection_id, *params],
            )
            plan = "\n".join(line for (line,) in cursor.fetchall())
        assert row.db_name in plan, plan


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_builds_on_the_documents_table_all_end_ready(project, secret_client, monkeypatch):
    """CREATE INDEX CONCURRENTLY twice at once on one table deadlocked; builds now take turns."""
    queued: list[int] = []
    monkeypatch.setattr(indexes, "schedule_index_build", queued.append)
    body = {**ITEMS, "indexes": [{"fields": [f]} for f in ("tags", "-score", "n")]}
    assert secret_client.post(SCHEMA, body, format="json").status_code == 201
    assert len(queued) == 3
    outcomes: dict[int, object] = {}

    def build(index_id: int) -> None:
        try:
            outcomes[index_id] = indexes.build_index(index_id)
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcomes[index_id] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=build, args=(index_id,)) for index_id in queued]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert outcomes == {index_id: CollectionIndex.READY for index_id in queued}
    assert set(CollectionIndex.objects.filter(pk__in=queued).values_list("status", flat=True)) == {"ready"}


sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'")


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_plans_the_declared_index_once_the_collection_has_grown(project, secret_client, monkeypatch):
    """Without statistics SQLite sorted the whole collection for `score > X order -score`; the
    periodic PRAGMA optimize gives it what it needs to walk the declared index instead."""
    import json

    from django.test.utils import CaptureQueriesContext

    from basalt.documents import statistics

    monkeypatch.setattr(statistics, "SQLITE_OPTIMIZE_EVERY", 100)
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    row = CollectionIndex.objects.get(collection__name="items", fields=["-score"])
    for n in range(300):
        assert secret_client.post(DOCS, {"n": n, "score": n % 97}, format="json").status_code == 201
    pk = key_client(project.publishable)
    with CaptureQueriesContext(connection) as queries:
        response = pk.get(DOCS, {"where": json.dumps({"score": {"$gt": 90}}), "order": "-score", "limit": 20})
    assert response.status_code == 200 and len(response.json()["results"]) == 18
    sql = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        plan = " | ".join(str(line[-1]) for line in cursor.fetchall())
    assert row.db_name in plan and "TEMP B-TREE" not in plan, plan


@postgres_only
@pytest.mark.django_db
def test_a_declared_index_brings_statistics_the_planner_reads(
    project, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    """The planner ignores a partial index's statistics, so a filter on a declared field was guessed
    at a third of the collection (a whole-table scan to count a few matches among 1,000,000). A
    collection large enough to need them gets statistics on its indexed fields; a small one gets
    none, since the planner reads every statistics object of the shared table for every query."""
    from basalt.documents import statistics

    small = {**ITEMS, "name": "small", "indexes": [{"fields": ["-score"]}]}
    with django_capture_on_commit_callbacks(execute=True):
        assert secret_client.post(SCHEMA, {**ITEMS, "indexes": []}, format="json").status_code == 201
        assert secret_client.post(SCHEMA, small, format="json").status_code == 201
    small_index = CollectionIndex.objects.get(collection__name="small")
    assert small_index.status == CollectionIndex.READY and not _has_statistics(small_index.db_name)
    collection_id = Collection.objects.get(name="items").pk
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'seed' || g, %s, %s, jsonb_build_object('score', g), "
            "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now(), now(), 1 FROM generate_series(1, %s) g",
            [project.project.pk, collection_id, statistics.STATISTICS_FROM_ROWS + 1000],
        )
        cursor.execute(
            "SET CONSTRAINTS ALL IMMEDIATE"
        )  # the test's one transaction: no CREATE INDEX after deferred checks
    with django_capture_on_commit_callbacks(execute=True):  # the index declared on a large collection
        response = secret_client.patch(f"{SCHEMA}/items", {"indexes": [{"fields": ["-score"]}]}, format="json")
        assert response.status_code == 200, response.content
    row = CollectionIndex.objects.get(collection__name="items", fields=["-score"])
    assert row.status == CollectionIndex.READY and _has_statistics(row.db_name)
    sql, params = current_dialect().compare(FieldRef(("score",), "number"), "$gte", 5990)
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN (FORMAT JSON) SELECT count(*) FROM basalt_document WHERE collection_id = %s AND {sql}",  # noqa: S608
            [row.collection_id, *params],
        )
        plan = cursor.fetchone()[0][0]["Plan"]
    estimated = plan["Plans"][0]["Plan Rows"] if plan.get("Plans") else plan["Plan Rows"]
    assert estimated < 200, plan  # 11 match; without the statistics the guess was ~2,000
    with django_capture_on_commit_callbacks(execute=True):
        response = secret_client.patch(f"{SCHEMA}/items", {"indexes": []}, format="json")
        assert response.status_code == 200, response.content
    assert not _has_statistics(row.db_name)


def _has_statistics(db_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_statistic_ext WHERE stxname = %s", [f"{db_name}_st"])
        return cursor.fetchone()[0] == 1


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_sqlite_plans_a_large_collection_by_its_declared_index(project, secret_client, monkeypatch):
    """A bounded analysis (PRAGMA optimize under `analysis_limit`) put every collection at about 500
    documents, so SQLite sorted the anchors' 19,300 posts for each `score > X order -score` page
    (25 ms, against 0.07 ms through the declared index) and read every post to count `score > X`.
    The documents table is now analysed in full as it grows, and a range on a declared number field
    has no type test to read from each document (a count of `score > 450` among the 19,300: 25 ms
    with it, 0.8 ms without)."""
    import json

    from django.test.utils import CaptureQueriesContext

    from basalt.documents import statistics

    monkeypatch.setattr(statistics, "SQLITE_OPTIMIZE_EVERY", 100)
    monkeypatch.setattr(statistics, "_writes_since_analysis", 0)
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    collection = Collection.objects.get(name="items", project=project.project)
    row = CollectionIndex.objects.get(collection=collection, fields=["-score"])
    _seed_sqlite_scores(project, collection)
    for n in range(200):
        assert secret_client.post(DOCS, {"n": n, "score": n % 97}, format="json").status_code == 201
    pk = key_client(project.publishable)
    plans = {}
    for name, params in (
        ("page", {"where": json.dumps({"score": {"$gt": 450}}), "order": "-score", "limit": 20}),
        ("count", {"where": json.dumps({"score": {"$gt": 990}}), "count": "true", "limit": 0}),
    ):
        with CaptureQueriesContext(connection) as queries:
            # The count by the secret key: a reader's ACL is read from each document.
            response = (pk if name == "page" else secret_client).get(DOCS, params)
        assert response.status_code == 200, response.content
        sql = next(q["sql"] for q in queries.captured_queries if "basalt_document" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            plans[name] = " | ".join(str(line[-1]) for line in cursor.fetchall())
        if name == "page":
            assert [doc["score"] for doc in response.json()["results"]] == [996] * 20
        else:
            assert response.json()["count"] == 6 * 20  # 991-996, twenty times each among 20,000
    assert row.db_name in plans["page"] and "TEMP B-TREE" not in plans["page"], plans["page"]
    # No type test to read from each document: the range is the declared index's alone.
    assert row.db_name in plans["count"] and "json_type" not in sql, (plans["count"], sql)


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_request_thread_plans_with_the_analysis_another_connection_made(project, secret_client, monkeypatch):
    """SQLite reads its statistics when a connection opens: `serve`'s request threads kept planning
    with what they had read after the worker's connection had analysed the table, and kept sorting
    the collection. A find now reloads them when the process has analysed since."""
    import json

    from django.test.utils import CaptureQueriesContext

    from basalt.documents import statistics

    monkeypatch.setattr(statistics, "SQLITE_OPTIMIZE_EVERY", 10**9)  # no analysis from these writes
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    collection = Collection.objects.get(name="items", project=project.project)
    row = CollectionIndex.objects.get(collection=collection, fields=["-score"])
    _seed_sqlite_scores(project, collection)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA analysis_limit = 1000")  # what this connection planned with so far
        cursor.execute("ANALYZE basalt_document")

    def worker() -> None:
        try:
            statistics.analyze_sqlite()
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    params = {"where": json.dumps({"score": {"$gt": 450}}), "order": "-score", "limit": 20}
    with CaptureQueriesContext(connection) as queries:
        response = key_client(project.publishable).get(DOCS, params)
    assert response.status_code == 200 and [doc["score"] for doc in response.json()["results"]] == [996] * 20
    sql = next(q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql)
        plan = " | ".join(str(line[-1]) for line in cursor.fetchall())
    assert row.db_name in plan and "TEMP B-TREE" not in plan, plan


def _seed_sqlite_scores(project, collection) -> None:
    """20,000 public documents of `collection` on SQLite, scores n % 997 (each 991-996 twenty times)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000) "
            "SELECT 'seed' || n, %s, %s, json_object('n', n, 'score', n %% 997), '{}', '[\"*\"]', '[]', '', "
            "datetime('now'), datetime('now'), 1 FROM g",
            [project.project.pk, collection.pk],
        )


@postgres_only
@pytest.mark.django_db
def test_prepared_finds_skip_planning_and_keep_the_declared_index(
    project, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    """Statements are prepared on PostgreSQL after a few runs on a connection, and PostgreSQL then
    runs a find on a plan made once for any values (planning cost three times running it). Such a
    plan once guessed the ACL filter selective and scanned every public document through the ACL
    index; with public documents named by a constant it keeps the collection's declared index."""
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        pytest.skip("prepared statements are off (DATABASE_PREPARED_STATEMENTS=false)")
    with django_capture_on_commit_callbacks(execute=True):
        assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    rows = {tuple(r.fields): r for r in CollectionIndex.objects.filter(collection__name="items")}
    assert {r.status for r in rows.values()} == {CollectionIndex.READY}
    collection = rows[("tags",)].collection
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'seed' || g, %s, %s, jsonb_build_object('score', g, 'tags', jsonb_build_array('x' || (g %% 500))), "
            "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now(), now(), 1 FROM generate_series(1, 6000) g",
            [project.project.pk, collection.pk],
        )
        cursor.execute("ANALYZE basalt_document")
    reader = frozenset({"*", "authenticated", "someone"})

    def query(raw: dict) -> Query:
        return parse_query(collection, raw, {})

    by_score = query({"where": {"score": {"$gt": 3}}, "order": "-score", "limit": 20})
    by_tags = query({"where": {"tags": {"$in": ["x7", "x9"]}}, "limit": 20})
    for _ in range(12):
        assert len(run_find(collection, by_score, reader).rows) == 20
        assert len(run_find(collection, by_tags, reader).rows) == 20
        assert run_count(collection, query({"where": {"score": {"$gt": 5990}}}), reader) == 10
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%FROM basalt_document WHERE collection_id = {collection.pk} AND%"],
        )
        prepared = {statement: (generic, custom) for statement, generic, custom in cursor.fetchall()}
    assert len(prepared) == 3, prepared  # the two pages and the count, each prepared once
    by_score_sql, params = Compiler(current_dialect(), collection).select(by_score, reader, 21, 1 << 24)
    generic, custom = next(
        plans for statement, plans in prepared.items() if "'score'" in statement and "_k0" in statement
    )
    assert generic > 0 and custom <= 5, prepared  # planned while PostgreSQL learned it, then not again
    assert rows[("-score",)].db_name in _generic_plan(by_score_sql, params)


def _generic_plan(sql: str, params: list) -> str:
    """EXPLAIN of the plan a prepared statement gets once PostgreSQL stops re-planning it per value."""
    numbered = iter(range(1, len(params) + 1))
    with connection.cursor() as cursor:
        cursor.execute("PREPARE plan_probe AS " + re.sub("%s", lambda _: f"${next(numbered)}", sql))
        try:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            values = connection.ops.compose_sql(", ".join(["%s"] * len(params)), params)
            cursor.execute(f"EXPLAIN EXECUTE plan_probe({values})")
            return "\n".join(line for (line,) in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE plan_probe")


def _plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(line for (line,) in cursor.fetchall())


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_grown_collection_is_analysed_without_being_asked(project, secret_client, eager_celery, monkeypatch):
    """A collection that grew after the ANALYZE of its index build was planned for its old size (a
    bitmap scan and a sort instead of the declared index); creates now let a background check find
    the growth and refresh the statistics, with autovacuum off as on this machine's PostgreSQL."""
    from django.core.cache import cache

    from basalt.documents import statistics

    monkeypatch.setattr(statistics, "PG_CHECK_EVERY", 20)
    cache.delete(statistics._key("analyze"))  # an earlier test's ANALYZE does not hold this one back
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    rows = {tuple(r.fields): r for r in CollectionIndex.objects.filter(collection__name="items")}
    assert {r.status for r in rows.values()} == {CollectionIndex.READY}  # and analysed, nearly empty
    collection = rows[("-score",)].collection
    with connection.cursor() as cursor:  # grown since, as by an import (COPY, restore) or a busy day
        cursor.execute("ALTER TABLE basalt_document SET (autovacuum_enabled = false)")
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'seed' || g, %s, %s, jsonb_build_object('score', g %% 1000), "
            "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now(), now(), 1 FROM generate_series(1, 20000) g",
            [project.project.pk, collection.pk],
        )
        cursor.execute("SELECT pg_stat_force_next_flush()")  # other backends' counts arrive within 1 s
    query = parse_query(collection, {"where": {"score": {"$gt": 900}}, "order": "-score", "limit": 20}, {})
    sql, params = Compiler(current_dialect(), collection).select(query, frozenset({"*"}), 21, 1 << 24)
    index = rows[("-score",)].db_name
    assert not _has_statistics(index)  # built on an empty collection
    try:
        # Planned for the collection it was when analysed: a few rows. (Which plan the planner then
        # picks among near-equal costs varies from run to run, so the staleness is checked here.)
        assert _expected_rows(collection.pk) < 1000
        for n in range(20):
            assert secret_client.post(DOCS, {"n": n, "score": n}, format="json").status_code == 201
        assert _expected_rows(collection.pk) > 10_000  # analysed without being asked
        assert _has_statistics(index)  # and, grown large, its indexed fields got statistics
        # With autovacuum off the check also vacuums: a count of the collection reads only an index.
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, COSTS OFF) SELECT count(*) FROM basalt_document WHERE collection_id = %s",
                [collection.pk],
            )
            counted = "\n".join(line for (line,) in cursor.fetchall())
        assert "Index Only Scan" in counted and "Heap Fetches: 0" in counted, counted
        fresh = _plan(sql, params)  # the declared index walked in order, stopping after the page
        assert f"Index Scan using {index}" in fresh and "Bitmap" not in fresh, fresh
        assert len(run_find(collection, query, frozenset({"*"})).rows) == 20
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE basalt_document RESET (autovacuum_enabled)")


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_collection_that_is_most_of_the_table_gets_its_statistics_once_large(
    project, secret_client, eager_celery, monkeypatch
):
    """PostgreSQL scales a collection's estimate with the table, so a collection that was most of
    the table when analysed never looks grown: the anchors' posts went from 800 to 19,300 documents
    without a second ANALYZE, and their indexed fields never got statistics. A check now gives a
    collection past STATISTICS_FROM_ROWS the statistics it lacks, grown or not."""
    from django.core.cache import cache

    from basalt.documents import statistics

    monkeypatch.setattr(statistics, "PG_CHECK_EVERY", 20)
    cache.delete(statistics._key("analyze"))
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    rows = list(CollectionIndex.objects.filter(collection__name="items"))
    collection = rows[0].collection
    cache.delete(statistics._key("again", collection.pk))

    def seed(first: int, count: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
                "write_principals, created_by, created_at, updated_at, version) "
                "SELECT 'seed' || g, %s, %s, "
                "jsonb_build_object('score', g %% 1000, 'tags', jsonb_build_array('t' || (g %% 5))), "
                "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now(), now(), 1 "
                "FROM generate_series(%s::int, %s::int) g",
                [project.project.pk, collection.pk, first, first + count - 1],
            )
            cursor.execute("SELECT pg_stat_force_next_flush()")

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE basalt_document SET (autovacuum_enabled = false)")
    try:
        seed(1, 1000)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE basalt_document")
        seed(1001, 5000)
        # Whether this table's estimate scaled (it did for the anchors' posts; here the planner may
        # also see growth, depending on the pages ANALYZE sampled): the check sees none.
        monkeypatch.setattr(statistics, "_outgrown", lambda cursor, collection_id: False)
        assert not any(_has_statistics(row.db_name) for row in rows)
        for n in range(20):  # creates: the check they bring finds the collection large and unmeasured
            assert secret_client.post(DOCS, {"n": n, "score": n}, format="json").status_code == 201
        assert all(_has_statistics(row.db_name) for row in rows)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE basalt_document RESET (autovacuum_enabled)")


def _expected_rows(collection_id: int) -> int:
    from basalt.documents.query.engine import planner_rows

    return planner_rows(f"SELECT 1 FROM basalt_document WHERE collection_id = {int(collection_id)}")  # noqa: S608


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_check_made_before_the_writes_were_reported_looks_again(project, secret_client, eager_celery, monkeypatch):
    """Backends report their writes to PostgreSQL's statistics up to ~10 s late: a check at the end
    of a burst of creates found too few writes and gave up, so the collection kept the plans of its
    old size until its next creates (a whole benchmark phase of signed-in finds, measured)."""
    from django.core.cache import cache

    from basalt.documents import statistics

    cache.delete(statistics._key("analyze"))
    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    collection = CollectionIndex.objects.filter(collection__name="items").first().collection
    cache.delete(statistics._key("again", collection.pk))
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE basalt_document SET (autovacuum_enabled = false)")
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'late' || g, %s, %s, jsonb_build_object('score', g %% 1000), "
            "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now(), now(), 1 FROM generate_series(1, 4000) g",
            [project.project.pk, collection.pk],
        )
        cursor.execute("SELECT pg_stat_force_next_flush()")
    reported = statistics._reported_writes
    looks: list[int] = []

    def not_yet_reported_at_first(cursor):
        looks.append(1)
        return 0 if len(looks) == 1 else reported(cursor)

    monkeypatch.setattr(statistics, "_reported_writes", not_yet_reported_at_first)
    # Not reported yet either: the writes since the last vacuum (which, where autovacuum is off as
    # here, would have Basalt vacuum and analyse at the first look).
    vacuum_due = statistics._vacuum_due
    monkeypatch.setattr(statistics, "_vacuum_due", lambda *args: len(looks) > 1 and vacuum_due(*args))
    try:
        assert _expected_rows(collection.pk) < 1000
        # The first look finds nothing reported; the second (queued for later, run inline here) does.
        assert statistics.refresh_if_grown(collection.pk) is False
        assert len(looks) == 2
        assert _expected_rows(collection.pk) > 2_500
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE basalt_document RESET (autovacuum_enabled)")


@postgres_only
@pytest.mark.django_db
def test_a_page_in_index_order_is_never_sorted_again_by_the_byte_cut(
    project, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    """The running byte count that bounds a page (budget) ordered its rows by the sort expressions
    recomputed over the page: PostgreSQL sorted 21 rows twice more, most of a small find's time.
    Ordered by the page's own key columns it keeps the index's order; results are unchanged."""
    import json

    from django.test.utils import CaptureQueriesContext

    with django_capture_on_commit_callbacks(execute=True):
        assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    for n in range(60):
        assert secret_client.post(DOCS, {"n": n, "score": n % 17}, format="json").status_code == 201
    pk = key_client(project.publishable)
    pages = []
    for order in ("-score", "score,-n", "-created_at"):
        with CaptureQueriesContext(connection) as queries:
            response = pk.get(
                DOCS, {"where": json.dumps({"score": {"$gt": 3}}), "order": order, "limit": 20, "count": "true"}
            )
        assert response.status_code == 200, response.content
        pages.append([(doc["score"], doc["n"]) for doc in response.json()["results"]])
        sql = next(q["sql"] for q in queries.captured_queries if "OVER (ORDER BY" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(line for (line,) in cursor.fetchall())
        sorts = re.findall(r"^\s*(?:->\s+)?(?:Incremental )?Sort\s+\(", plan, re.MULTILINE)
        # At most the page's own ORDER BY, where the index serves only part of the order.
        assert len(sorts) <= (0 if order == "-score" else 1), plan
    everything = [(n % 17, n) for n in range(60) if n % 17 > 3]
    assert [score for score, _n in pages[0]] == sorted((score for score, _n in everything), reverse=True)[:20]
    assert pages[1] == sorted(everything, key=lambda row: (row[0], -row[1]))[:20]
    assert pages[2] == [(n % 17, n) for n in reversed(range(60)) if n % 17 > 3][:20]


@postgres_only
@pytest.mark.django_db
def test_a_page_and_its_count_are_one_statement_counting_once(
    project, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    """`count=true&limit=1` (how the anchors' workload counts) ran the page and a COUNT as two
    statements, each parsed, planned and answered. The count is now a column of the page: an
    uncorrelated sub-select PostgreSQL runs once (an InitPlan), never once per row (a SubPlan); and
    its page of two rows is not cut by bytes (a window over two rows, a third more planning)."""
    import json

    from django.test.utils import CaptureQueriesContext

    with django_capture_on_commit_callbacks(execute=True):
        assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    for n in range(30):
        assert secret_client.post(DOCS, {"n": n, "score": n % 7}, format="json").status_code == 201
    pk = key_client(project.publishable)
    for where in ({"score": {"$gt": 3}}, {}):
        with CaptureQueriesContext(connection) as queries:
            response = pk.get(DOCS, {"where": json.dumps(where), "limit": 1, "count": "true"})
        assert response.status_code == 200, response.content
        assert response.json()["count"] == (12 if where else 30) and len(response.json()["results"]) == 1
        statements = [q["sql"] for q in queries.captured_queries if "basalt_document" in q["sql"]]
        assert len(statements) == 1, statements
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + statements[0])
            plan = "\n".join(line for (line,) in cursor.fetchall())
        assert "InitPlan" in plan and "SubPlan" not in plan and plan.count("Aggregate") == 1, plan
        # Two rows (one and the look-ahead) are not cut by bytes: the cut lets the first through anyway.
        assert "WindowAgg" not in plan, plan
    with CaptureQueriesContext(connection) as queries:
        assert pk.get(DOCS, {"limit": 2, "count": "true"}).json()["count"] == 30
    assert any("OVER (ORDER BY" in q["sql"] for q in queries.captured_queries)  # three rows are


@postgres_only
@pytest.mark.django_db
def test_a_page_of_a_common_tag_walks_the_requested_order_instead_of_sorting_every_match(
    project, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    """A containment test on an array field carried a type test (`jsonb_typeof(…) = 'array'`) that
    PostgreSQL estimated at 0.5% of rows, so it believed a tag held by a fifth of the collection
    matched a handful: it fetched every match through the GIN index and sorted them all for a page of
    20 (3,765 rows, 10-17 ms in the anchors' workload), where walking the page's order stops after
    about a hundred rows (0.4 ms). Only an array contains an array, so the test is gone; results are
    the same (test_in_contains_and_all_on_an_array_field_match_element_semantics)."""
    with django_capture_on_commit_callbacks(execute=True):
        assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    collection = Collection.objects.get(name="items", project=project.project)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'seed' || g, %s, %s, jsonb_build_object('n', g, 'tags', jsonb_build_array('t' || (g %% 5))), "
            "'{}'::jsonb, '[\"*\"]'::jsonb, '[]'::jsonb, '', now() + g * interval '1 ms', now(), 1 "
            "FROM generate_series(1, 6000) g",
            [project.project.pk, collection.pk],
        )
    # What a collection of this size has (statistics.large_enough), array fields included.
    indexes.add_statistics(CollectionIndex.objects.filter(collection=collection))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE basalt_document")
    assert all(_has_statistics(row.db_name) for row in CollectionIndex.objects.filter(collection=collection))
    reader = frozenset({"*", "authenticated", "someone"})
    for where in (
        {"$or": [{"tags": {"$contains": "t1"}}, {"tags": {"$contains": "t2"}}]},
        {"tags": {"$in": ["t1", "t2"]}},
        {"tags": {"$contains": "t3"}},
    ):
        query = parse_query(collection, {"where": where, "limit": 20}, {})
        sql, params = Compiler(current_dialect(), collection).select(query, reader, 21, 1 << 24)
        plan = _plan(sql, params)
        assert "Bitmap" not in plan and not re.search(r"^\s*(?:->\s+)?Sort\s+\(", plan, re.MULTILINE), plan
        rows = run_find(collection, query, reader).rows
        wanted = {"t3"} if "$contains" in str(where) and "t3" in str(where) else {"t1", "t2"}
        expected = [n for n in range(1, 6001) if f"t{n % 5}" in wanted][:20]
        assert [row.data["n"] for row in rows] == expected


@sqlite_only
@pytest.mark.django_db
def test_sqlite_pages_read_times_as_stored_text_and_keep_the_index_order(project, secret_client):
    """The page's times come as SQLite's stored text (no converter parses them before load_time
    does) and still as aware UTC instants; ordered by a time, the page walks the index, unsorted."""
    from datetime import UTC, datetime

    assert secret_client.post(SCHEMA, ITEMS, format="json").status_code == 201
    collection = Collection.objects.get(project=project.project, name="items")
    with connection.cursor() as cursor:
        for number, stamp in enumerate(["2026-12-07 00:00:00", "2026-12-07 00:00:01.250000"]):
            cursor.execute(
                "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
                "write_principals, created_by, created_at, updated_at, version) "
                "VALUES (%s, %s, %s, '{}', '{}', '[\"*\"]', '[]', '', %s, %s, 1)",
                [f"t{number}", project.project.pk, collection.pk, stamp, stamp],
            )
    for order in ("created_at", "-updated_at"):
        query = parse_query(collection, {"order": order, "limit": 10}, {})
        sql, params = Compiler(current_dialect(), collection).select(query, frozenset({"*"}), 11)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            first = cursor.fetchone()
            assert isinstance(first[3], str) and isinstance(first[4], str), first
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " | ".join(str(line[-1]) for line in cursor.fetchall())
        assert "TEMP B-TREE" not in plan, plan
        rows = run_find(collection, query, frozenset({"*"})).rows
        times = [(row.created_at, row.updated_at) for row in rows]
        expected = [datetime(2026, 12, 7, 0, 0, 0, tzinfo=UTC), datetime(2026, 12, 7, 0, 0, 1, 250000, tzinfo=UTC)]
        assert times == [(moment, moment) for moment in (expected if order == "created_at" else expected[::-1])]
        assert all(moment.utcoffset().total_seconds() == 0 for pair in times for moment in pair)

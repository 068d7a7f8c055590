"""Declared indexes become real partial expression indexes that the planner uses; unique ones reject duplicates."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from basalt.documents import indexes
from basalt.documents.models import CollectionIndex, Document
from basalt.documents.query import parse_query
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.dialects import current_dialect

from .conftest import LIMITS, add

pytestmark = pytest.mark.django_db(transaction=True)


def index_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        else:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
        return cursor.fetchone() is not None


def make_index(coll, fields, unique=False, name=None) -> CollectionIndex:
    default = f"bx_{coll.id}_{'_'.join(f.strip('-') for f in fields)}{'_u' if unique else ''}"
    return CollectionIndex.objects.create(collection=coll, db_name=name or default, fields=fields, unique=unique)


def test_index_expressions_are_the_compilers(coll):
    """The DDL's expressions appear verbatim in the compiled ORDER BY, so the planner can match them."""
    row = make_index(coll, ["score", "-title"])
    ddl = indexes.index_ddl(row, concurrently=True)
    query = parse_query(coll, {"where": {"score": {"$gt": 1}}, "order": "score,-title"}, LIMITS)
    sql, _ = Compiler(current_dialect(), coll).select(query, frozenset({"*"}), 21)
    order_by = sql.split("ORDER BY", 1)[1]
    score_expr = current_dialect().value(query.order[0].field)
    # SQLite indexes carry each entry's readers after id, for the ACL test (indexes.SQLITE_READERS_COLUMN).
    readers = ", read_principals" if connection.vendor == "sqlite" else ""
    assert f"({score_expr}, {current_dialect().value(query.order[1].field)} DESC, id DESC{readers})" in ddl
    assert f"WHERE collection_id = {coll.id}" in ddl and f"collection_id = {coll.id}" in sql
    assert order_by.strip().startswith(f"{score_expr} ASC")
    if connection.vendor == "postgresql":
        assert "CONCURRENTLY" in ddl


@pytest.fixture
def eager_celery():
    from basalt.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def test_build_is_idempotent_and_drop_removes_index_and_row(coll, eager_celery):
    add(coll, {"score": 1})
    row = make_index(coll, ["score"])
    indexes.schedule_index_build(row.id)  # eager Celery: the task runs now
    row.refresh_from_db()
    assert row.status == CollectionIndex.READY and row.error == ""
    assert index_exists(row.db_name)
    assert indexes.build_index(row.id) == CollectionIndex.READY
    CollectionIndex.objects.filter(pk=row.pk).update(status=CollectionIndex.DROPPING)
    indexes.schedule_index_drop(row.id)
    assert not index_exists(row.db_name)
    assert not CollectionIndex.objects.filter(pk=row.pk).exists()
    assert indexes.build_index(row.id) == "missing"


def test_unique_build_on_duplicates_fails_and_leaves_no_index(coll):
    add(coll, {"title": "same"})
    add(coll, {"title": "same"})
    row = make_index(coll, ["title"], unique=True)
    assert indexes.build_index(row.id) == CollectionIndex.FAILED
    row.refresh_from_db()
    assert row.status == CollectionIndex.FAILED
    assert "duplicate values for title" in row.error
    assert not index_exists(row.db_name)  # PostgreSQL's INVALID leftover was dropped


def test_unique_index_rejects_duplicates_and_names_the_field(coll, make_collection):
    add(coll, {"title": "a"})
    add(coll, {})  # missing values never conflict
    add(coll, {"title": None})
    row = make_index(coll, ["title"], unique=True)
    assert indexes.build_index(row.id) == CollectionIndex.READY
    add(coll, {})
    other = make_collection("others")
    add(other, {"title": "a"})  # the index is per collection
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        add(coll, {"title": "a"})
    assert indexes.unique_violation_field(caught.value, coll) == "title"
    assert indexes.unique_violation_field(caught.value, other) is None
    assert Document.objects.filter(collection=coll, data__title="a").count() == 1


def test_collection_deletion_drops_indexes_after_commit(coll, eager_celery):
    row = make_index(coll, ["score"])
    indexes.build_index(row.id)
    with transaction.atomic():
        indexes.drop_indexes_now([row.db_name])
        assert index_exists(row.db_name)  # nothing locks the shared table before the commit
    assert not index_exists(row.db_name)


def test_bad_rows_fail_cleanly(coll):
    row = make_index(coll, ["score; DROP TABLE x"], name=f"bx_{coll.id}_bad")
    assert indexes.build_index(row.id) == CollectionIndex.FAILED
    with pytest.raises(indexes.IndexDefinitionError):
        indexes.drop_ddl('x"; DROP TABLE basalt_document; --', concurrently=False)


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="EXPLAIN plans are PostgreSQL's")
def test_postgres_uses_the_index_for_where_order_limit(coll):
    """With a few thousand documents and fresh statistics, an indexed where+order+limit is an index scan."""
    Document.objects.bulk_create(
        Document(
            id=f"e{i:06d}",
            project_id=coll.project_id,
            collection=coll,
            data={"score": i % 997, "title": f"t{i % 50}"},
            read_principals=["*"] if i % 3 else ["u1"],
        )
        for i in range(4000)
    )
    score = make_index(coll, ["score"])
    compound = make_index(coll, ["title", "-score"])
    assert indexes.build_index(score.id) == indexes.build_index(compound.id) == CollectionIndex.READY
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE basalt_document")
    plans = {}
    for name, raw in {
        "range": {"where": {"score": {"$gte": 500}}, "order": "score", "limit": 20},
        "range_desc": {"where": {"score": {"$gt": 100}}, "order": "-score", "limit": 20},
        "narrow": {"where": {"score": {"$lt": 100}}, "order": "-score", "limit": 20},
        "eq_order": {"where": {"title": "t7"}, "order": "-score", "limit": 20},
    }.items():
        query = parse_query(coll, raw, LIMITS)
        sql, params = Compiler(current_dialect(), coll).select(query, frozenset({"*", "u9"}), 21)
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plans[name] = "\n".join(line for (line,) in cursor.fetchall())
    print("\n\n".join(f"{k}:\n{v}" for k, v in plans.items()))
    assert score.db_name in plans["range"] and "Sort" not in plans["range"], plans["range"]
    assert score.db_name in plans["range_desc"] and "Backward" in plans["range_desc"], plans["range_desc"]
    assert compound.db_name in plans["eq_order"], plans["eq_order"]
    # A narrow range or an equality may rather fetch its few rows through a bitmap and sort them.
    for name in ("narrow", "eq_order"):
        assert "Index Scan" in plans[name] or "Bitmap Index Scan" in plans[name], plans[name]
    assert score.db_name in plans["narrow"], plans["narrow"]

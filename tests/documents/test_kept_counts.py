"""A count of a whole collection is exact through every kind of write, on both databases.

SQLite answers it from per-collection counts that triggers keep as rows are written (migration
0015, SqliteDialect.kept_count); PostgreSQL from its indexes. Rows are written here in SQL, past the
services, as an import, a purge or an operator's statement would: the counts must follow whatever
changes the rows, including a change that is rolled back.
"""

from __future__ import annotations

import json
from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection, transaction

from basalt.documents.models import Collection
from basalt.documents.query import parse_query, run_count
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.dialects import current_dialect

PUBLIC_READ = {"name": "", "fields": {"n": {"type": "number"}}, "permissions": {"count": ["*"]}}
READERS = [None, frozenset({"*"}), frozenset({"*", "authenticated", "u1"}), frozenset({"*", "role:r", "é"})]


@pytest.fixture
def two(project, secret_client) -> tuple[Collection, Collection]:
    for name in ("alpha", "beta"):
        made = secret_client.post("/api/v1/schema/collections", {**PUBLIC_READ, "name": name}, format="json")
        assert made.status_code == 201, made.content
    return tuple(Collection.objects.get(project=project.project, name=name) for name in ("alpha", "beta"))


class Rows:
    """The documents as written here, to count in Python what the database must count."""

    def __init__(self) -> None:
        self.where: dict[str, tuple[int, list[str]]] = {}
        self.j = "%s::jsonb" if connection.vendor == "postgresql" else "%s"

    def insert(self, collection: Collection, doc_id: str, readers: list[str]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
                "write_principals, created_by, created_at, updated_at, version) "
                f"VALUES (%s, %s, %s, {self.j}, '{{}}', {self.j}, '[]', '', %s, %s, 1)",
                # json.dumps writes é as \u00e9: a public list with a backslash in its text.
                [doc_id, collection.project_id, collection.pk, '{"n": 1}', json.dumps(readers)]
                + ["2026-12-07 00:00:00"] * 2,
            )
        self.where[doc_id] = (collection.pk, readers)

    def set_readers(self, doc_id: str, readers: list[str]) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE basalt_document SET read_principals = {self.j} WHERE id = %s", [json.dumps(readers), doc_id]
            )
        self.where[doc_id] = (self.where[doc_id][0], readers)

    def move(self, doc_id: str, collection: Collection) -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE basalt_document SET collection_id = %s WHERE id = %s", [collection.pk, doc_id])
        self.where[doc_id] = (collection.pk, self.where[doc_id][1])

    def delete(self, *doc_ids: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM basalt_document WHERE id IN ({', '.join(['%s'] * len(doc_ids))})", doc_ids)
        for doc_id in doc_ids:
            del self.where[doc_id]

    def delete_collection(self, collection: Collection) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM basalt_document WHERE collection_id = %s", [collection.pk])
        self.where = {doc_id: row for doc_id, row in self.where.items() if row[0] != collection.pk}

    def expected(self, collection: Collection, readers: frozenset[str] | None) -> int:
        return sum(
            1
            for collection_id, read in self.where.values()
            if collection_id == collection.pk and (readers is None or not readers.isdisjoint(read))
        )

    def check(self, *collections: Collection) -> None:
        for collection in collections:
            for readers in READERS:
                for raw in ({}, {"where": {}}):
                    counted = run_count(collection, parse_query(collection, raw, {}), readers)
                    assert counted == self.expected(collection, readers), (collection.name, readers, raw)
            if connection.vendor == "sqlite":
                kept = _kept(collection)
                public_by_text = sum(
                    1
                    for collection_id, read in self.where.values()
                    if collection_id == collection.pk and "*" in read and "\\" not in json.dumps(read)
                )
                assert kept == (self.expected(collection, None), public_by_text), collection.name


def _kept(collection: Collection) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT total, public FROM basalt_document_count WHERE collection_id = %s", [collection.pk])
        return cursor.fetchone() or (0, 0)


@pytest.mark.django_db
def test_whole_collection_counts_follow_inserts_acl_changes_moves_deletes_and_rollbacks(two):
    alpha, beta = two
    rows = Rows()
    rows.check(alpha, beta)  # empty collections count 0
    for number, readers in enumerate([["*"], ["*", "u1"], ["u1"], ["u2"], ["*", "é"], ["role:r"], []]):
        rows.insert(alpha, f"a{number}", readers)
    rows.insert(beta, "b0", ["*"])
    rows.insert(beta, "b1", ["u1"])
    rows.check(alpha, beta)

    rows.set_readers("a2", ["*"])  # private to public
    rows.set_readers("a1", ["u2"])  # public to private
    rows.set_readers("a0", ["*", "u9"])  # public to public
    rows.set_readers("a4", ["*", "u1"])  # public with a backslash to public without
    rows.set_readers("a5", ["*", "é"])  # private to public with a backslash
    with connection.cursor() as cursor:  # a change of data alone changes no count
        cursor.execute("UPDATE basalt_document SET version = version + 1 WHERE collection_id = %s", [alpha.pk])
    rows.check(alpha, beta)

    rows.move("a0", beta)
    rows.move("b1", alpha)
    rows.check(alpha, beta)

    rows.delete("a2", "a3")
    rows.check(alpha, beta)

    before = {collection.name: _count_all(collection) for collection in (alpha, beta)}
    with pytest.raises(RuntimeError), transaction.atomic():
        scratch = Rows()
        scratch.insert(alpha, "gone", ["*"])
        scratch.where.update(rows.where)
        scratch.set_readers("a4", ["u1"])
        scratch.delete("b0")
        assert _count_all(alpha) == before["alpha"] + 1  # seen inside the transaction that wrote it
        raise RuntimeError("rolled back")
    assert {collection.name: _count_all(collection) for collection in (alpha, beta)} == before
    rows.check(alpha, beta)

    rows.delete_collection(alpha)
    rows.check(alpha, beta)
    assert _count_all(alpha) == 0


def _count_all(collection: Collection) -> int:
    return run_count(collection, parse_query(collection, {}, {}), None)


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_on_sqlite_a_count_of_all_reads_the_kept_counts_and_only_the_other_documents(two):
    alpha, _ = two
    rows = Rows()
    for number in range(20):
        rows.insert(alpha, f"p{number}", ["*"])
    rows.insert(alpha, "mine", ["u1"])
    compiler = Compiler(current_dialect(), alpha)
    query = parse_query(alpha, {}, {})
    secret_sql, secret_params = compiler.count(query, None)
    assert "basalt_document_count" in secret_sql
    assert _opened(secret_sql, secret_params) == set()  # no index or table of documents at all
    reader_sql, reader_params = compiler.count(query, frozenset({"*", "authenticated", "u1"}))
    assert _opened(reader_sql, reader_params) == {"doc_not_public"}  # the 20 public ones are not visited
    assert run_count(alpha, query, frozenset({"*", "u1"})) == 21
    # With a `where` the count still reads the rows it names.
    ranged = parse_query(alpha, {"where": {"n": {"$gte": 0}}}, {})
    assert "basalt_document_count" not in compiler.count(ranged, None)[0]
    assert run_count(alpha, ranged, None) == 21


def _opened(sql: str, params: list) -> set[str]:
    """The document table and its indexes that the statement's program opens."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rootpage, name FROM sqlite_master WHERE tbl_name = 'basalt_document' AND rootpage IS NOT NULL"
        )
        names = dict(cursor.fetchall())
        cursor.execute("EXPLAIN " + sql, params)
        return {names[row[3]] for row in cursor.fetchall() if row[1] == "OpenRead" and row[3] in names}


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_migration_counts_the_documents_already_there(two):
    alpha, beta = two
    migration = import_module("basalt.documents.migrations.0015_sqlite_kept_counts")
    with connection.schema_editor() as editor:
        migration.count_from_indexes(apps, editor)
    rows = Rows()
    for number, readers in enumerate([["*"], ["*", "u1"], ["u1"], ["*", "é"]]):
        rows.insert(alpha, f"a{number}", readers)
    rows.insert(beta, "b0", ["*"])
    with connection.schema_editor() as editor:
        migration.keep_counts(apps, editor)
    rows.check(alpha, beta)
    rows.insert(alpha, "after", ["*"])  # and the triggers count from there
    rows.check(alpha, beta)

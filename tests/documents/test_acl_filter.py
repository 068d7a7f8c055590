"""The read-ACL filter in SQL answers exactly what `can_read` answers, whatever the stored text.

On SQLite a row whose `read_principals` text has no backslash is tested by substring (the needle
is the quoted principal), any other row by `json_each` (dialects.sqlite_holds_principal). These
rows are the ways a substring could lie: an element that is a prefix or suffix of another, an
escaped quote that makes a crafted element contain `"u:abc"`, non-ASCII written raw (orjson, as
the store writes) or as `\\uXXXX` (json.dumps, as Django's JSONField writes), principals that need
escapes themselves or look like the separator between two elements. Find, count and the by-id
fetch of `expand` must all agree with the Python rule, on both databases.
"""

from __future__ import annotations

import json

import orjson
import pytest
from django.db import connection

from basalt.documents.models import Collection
from basalt.documents.query import parse_query, run_count, run_find
from basalt.documents.query.engine import fetch_by_ids

ITEMS = {
    "name": "items",
    "fields": {"n": {"type": "number"}},
    "permissions": {op: ["*"] for op in ("get", "find", "count")},
    "default_acl": "public",
}

# Each stored read list; the rows are written once as the store writes them (compact, raw UTF-8)
# and once as Django's JSONField does (`", "`, non-ASCII as \uXXXX escapes).
READ_LISTS = [
    ["*"],
    ["u:abc"],
    ["u:ab"],
    ["u:abcd"],
    ["xu:abc"],
    ["*", "u:abc"],
    ["role:admin"],
    ["role:admins"],
    ["r:admin"],
    ["admin"],
    [],
    # Crafted elements: escaped, each contains the text `"u:abc"` or `"*"` or `"role:admin"`.
    ['q"u:abc'],
    ['x","u:abc'],
    ['x", "u:abc'],
    ['a\\"u:abc'],
    ['x","*'],
    ['"role:admin"'],
    ["u:abc\\"],
    # Non-ASCII, and elements that need escapes of their own.
    ["é-user"],
    ["u:abc", "é"],
    ["é", "u:ab"],
    # Public with a backslash in its text (json.dumps's \u00e9): outside SQLite's doc_public, counted
    # with the other documents (SqliteDialect.PUBLIC_BY_TEXT).
    ["*", "é"],
    ['q"u'],
    ["a\\b"],
    ["tab\there"],
    # Elements that look like a separator or a quote.
    [","],
    [", "],
    ['"'],
    ["\\"],
]

READERS = [
    {"*"},
    {"u:abc"},
    {"u:ab"},
    {"u:abcd"},
    {"abc"},
    {"role:admin"},
    {"admin"},
    {"r:admin"},
    {"authenticated", "u:ab", "role:admin"},
    {"*", "authenticated", "u:abc"},
    {"é-user"},
    {"é"},
    {'q"u'},
    {"a\\b"},
    {"tab\there"},
    {","},
    {", "},
    {'"'},
    {"\\"},
    {"*", ","},
]


def _texts(read: list[str]) -> list[str]:
    return list(dict.fromkeys([orjson.dumps(read).decode(), json.dumps(read)]))


@pytest.fixture
def items(project, secret_client) -> Collection:
    assert secret_client.post("/api/v1/schema/collections", ITEMS, format="json").status_code == 201
    collection = Collection.objects.get(project=project.project, name="items")
    j = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        for n, read in enumerate(READ_LISTS):
            for encoding, text in enumerate(_texts(read)):
                cursor.execute(
                    "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
                    "write_principals, created_by, created_at, updated_at, version) "
                    f"VALUES (%s, %s, %s, {j}, {j}, {j}, {j}, '', %s, %s, 1)",
                    [f"d{n}e{encoding}", project.project.pk, collection.pk, json.dumps({"n": n}), "{}", text, "[]"]
                    + ["2026-12-07 00:00:00"] * 2,
                )
        if connection.vendor == "sqlite":
            # Both SQLite paths are taken: texts with a backslash (json_each) and without (substring).
            cursor.execute("SELECT id, read_principals FROM basalt_document WHERE collection_id = %s", [collection.pk])
            texts = dict(cursor.fetchall())
            assert texts["d1e0"] == '["u:abc"]' and texts["d5e1"] == '["*", "u:abc"]'
            assert texts["d18e0"] == '["é-user"]' and texts["d18e1"] == '["\\u00e9-user"]'
            assert texts["d11e0"] == '["q\\"u:abc"]'
    return collection


def _expected(readers: set[str]) -> set[str]:
    return {
        f"d{n}e{encoding}"
        for n, read in enumerate(READ_LISTS)
        for encoding in range(len(_texts(read)))
        if not readers.isdisjoint(read)
    }


def _visible(collection: Collection, readers: set[str]) -> tuple[set[str], int, set[str]]:
    principals = frozenset(readers)
    found = run_find(collection, parse_query(collection, {"limit": 1000}, {}), principals)
    counted = run_count(collection, parse_query(collection, {}, {}), principals)
    every = [f"d{n}e{e}" for n in range(len(READ_LISTS)) for e in range(2)]
    by_id = fetch_by_ids(collection, every, principals)
    return {row.id for row in found.rows}, counted, set(by_id)


@pytest.mark.django_db
@pytest.mark.parametrize("readers", READERS, ids=lambda readers: repr(sorted(readers)))
def test_find_count_and_by_id_see_exactly_the_documents_whose_acl_names_a_principal(items, readers):
    expected = _expected(readers)
    found, counted, by_id = _visible(items, readers)
    assert found == expected
    assert counted == len(expected)
    assert by_id == expected


@pytest.fixture
def items_indexed(items) -> Collection:
    """`items` with a declared plain index on `n`, built as a collection's index is built."""
    from basalt.documents import indexes
    from basalt.documents.models import CollectionIndex

    row = CollectionIndex.objects.create(collection=items, db_name=f"bx_{items.pk}_acl_n", fields=["n"])
    assert indexes.build_index(row.id) == CollectionIndex.READY
    return items


@pytest.mark.django_db(transaction=True)  # PostgreSQL builds the index outside a transaction
def test_a_count_over_a_declared_index_sees_exactly_the_readable_documents(items_indexed):
    """On SQLite the index holds each entry's readers and the ACL is tested there: same answers."""
    where = {"n": {"$gte": 0}}
    for readers in READERS:
        expected = _expected(readers)
        assert run_count(items_indexed, parse_query(items_indexed, {"where": where}, {}), frozenset(readers)) == len(
            expected
        ), readers
        query = parse_query(items_indexed, {"where": where, "limit": 1000}, {})
        assert {row.id for row in run_find(items_indexed, query, frozenset(readers)).rows} == expected, readers


def _table_cursors(sql: str, params: list) -> tuple[set[int], list[tuple]]:
    """SQLite: the statement program's cursors on the document table itself, and the program."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'basalt_document'")
        table_page = cursor.fetchone()[0]
        cursor.execute("EXPLAIN " + sql, params)
        program = cursor.fetchall()
    # A covering index leaves the table unopened: no cursor on it, no read.
    return {row[2] for row in program if row[1] == "OpenRead" and row[3] == table_page}, program


def _table_rows_read(sql: str, params: list) -> list[tuple]:
    """SQLite: the `Column` reads of the statement's program that go to the document table's own cursor."""
    table_cursors, program = _table_cursors(sql, params)
    return [row for row in program if row[1] == "Column" and row[2] in table_cursors]


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's covering indexes; PostgreSQL is tested for its own plans"
)
@pytest.mark.parametrize("where", [{}, {"n": {"$gte": 3}}], ids=["all", "declared index"])
def test_a_signed_in_count_on_sqlite_reads_no_document_row(items_indexed, where):
    """A user's count of a collection (doc_public plus doc_not_public) or of a range of a declared
    index is answered from the index entries: a document's row, with its data, is never read."""
    from basalt.documents.query.compiler import Compiler
    from basalt.documents.query.dialects import current_dialect

    query = parse_query(items_indexed, {"where": where}, {})
    sql, params = Compiler(current_dialect(), items_indexed).count(query, frozenset({"*", "u:abc", "role:admin"}))
    assert _table_rows_read(sql, params) == []
    if not where:  # not even a seek into the table per entry (migration 0015: doc_public covers its readers)
        assert _table_cursors(sql, params)[0] == set()
    # A page of the same query returns the documents' data: the check sees those reads.
    sql, params = Compiler(current_dialect(), items_indexed).select(query, frozenset({"*"}), 21)
    assert _table_rows_read(sql, params) != []


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the migration changes SQLite's indexes only")
def test_the_migration_rebuilds_an_existing_declared_index_with_its_readers(items):
    """An index built before readers were indexed is rebuilt by the migration; a unique one is left as it was."""
    from importlib import import_module

    from django.apps import apps

    from basalt.documents.models import CollectionIndex

    plain = CollectionIndex.objects.create(
        collection=items, db_name=f"bx_{items.pk}_old_n", fields=["n"], status="ready"
    )
    unique = CollectionIndex.objects.create(
        collection=items, db_name=f"bx_{items.pk}_old_u", fields=["other"], unique=True, status="ready"
    )
    only_items = f"WHERE collection_id = {items.pk}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE INDEX \"{plain.db_name}\" ON basalt_document (json_extract(data, '$.n'), id) {only_items}"
        )
        cursor.execute(
            f"CREATE UNIQUE INDEX \"{unique.db_name}\" ON basalt_document (json_extract(data, '$.other')) {only_items}"
        )
        cursor.execute("DROP INDEX IF EXISTS doc_coll_readers")
    migration = import_module("basalt.documents.migrations.0012_sqlite_indexes_cover_readers")
    with connection.schema_editor() as editor:
        migration.create(apps, editor)

    def definition(name: str) -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = %s", [name])
            return cursor.fetchone()[0]

    assert definition(plain.db_name).endswith(
        f"(json_extract(data, '$.n'), id, read_principals) WHERE collection_id = {items.pk}"
    )
    assert "read_principals" not in definition(unique.db_name)
    assert definition("doc_coll_readers").endswith("(collection_id, read_principals)")
    # The rebuilt index answers as before.
    query = parse_query(items, {"where": {"n": {"$gte": 0}}}, {})
    assert run_count(items, query, frozenset({"*"})) == len(_expected({"*"}))

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

"""Run parsed queries: one SELECT per page (+ one COUNT when asked), ACL filtered inside SQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import DatabaseError, connection, transaction

from basalt.core.errors import InvalidQuery
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.cursors import encode_cursor
from basalt.documents.query.dialects import Dialect, current_dialect
from basalt.documents.query.nodes import (
    And,
    AnyOf,
    ArrayEquals,
    Compare,
    Contains,
    DocRow,
    Exists,
    FieldRef,
    FindResult,
    Near,
    Node,
    Nor,
    Or,
    Query,
    Regex,
    Search,
    WithinBox,
)

# PostgreSQL runs `$regex` in the database; a pattern that is slow on big strings is cut off here.
REGEX_TIMEOUT_MS = 2000


def referenced_fields(query: Query) -> Iterator[FieldRef]:
    """Every field a query filters or sorts on (for the protected-field check)."""
    stack: list[Node] = [query.where] if query.where is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or | Nor):
            stack.extend(node.children)
        elif isinstance(node, Compare | Exists | Regex | Contains | AnyOf | ArrayEquals | Search | Near | WithinBox):
            yield node.field
    for key in query.order:
        if key.field is not None:
            yield key.field


def check_hidden(query: Query, hidden_fields: frozenset[str]) -> None:
    """Refuse a query that filters or sorts on a field the caller may not read."""
    if not hidden_fields:
        return
    for ref in referenced_fields(query):
        if ref.path[0] in hidden_fields or ref.name in hidden_fields:
            # Same message as an unknown field: whether a protected field exists is not revealed.
            raise InvalidQuery(f"Unknown field {ref.name!r}.", details={"field": ref.name})


def run_find(
    collection: Any, query: Query, principals: frozenset[str] | None, hidden_fields: frozenset[str] = frozenset()
) -> FindResult:
    """Return one page of documents the principals may read (all when principals is None)."""
    check_hidden(query, hidden_fields)
    dialect = current_dialect()
    compiler = Compiler(dialect, collection)
    sql, params = compiler.select(query, principals, query.limit + 1)
    statements = [(sql, params)]
    if query.count:
        statements.append(compiler.count(query, principals))
    results = _execute(dialect, statements, query.uses_regex)
    fetched = results[0]
    rows = [_row(dialect, raw) for raw in fetched[: query.limit]]
    next_cursor = None
    if len(fetched) > query.limit:
        last_raw, last = fetched[query.limit - 1], rows[-1]
        next_cursor = encode_cursor(collection, query, _sort_values(query, last, last_raw))
    count = int(results[1][0][0]) if query.count else None
    return FindResult(rows=rows, next_cursor=next_cursor, count=count)


def run_count(
    collection: Any, query: Query, principals: frozenset[str] | None, hidden_fields: frozenset[str] = frozenset()
) -> int:
    """Count every document matching `where` that the principals may read."""
    check_hidden(query, hidden_fields)
    dialect = current_dialect()
    statement = Compiler(dialect, collection).count(query, principals)
    return int(_execute(dialect, [statement], query.uses_regex)[0][0][0])


def fetch_by_ids(collection: Any, ids: list[str], principals: frozenset[str] | None) -> dict[str, DocRow]:
    """Load readable documents of one collection by id in a single query (for `expand`)."""
    wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))
    if not wanted:
        return {}
    dialect = current_dialect()
    statement = Compiler(dialect, collection).by_ids(wanted, principals)
    return {row.id: row for row in (_row(dialect, raw) for raw in _execute(dialect, [statement], False)[0])}


def _execute(dialect: Dialect, statements: list[tuple[str, list[Any]]], uses_regex: bool) -> list[list[tuple]]:
    try:
        if uses_regex and dialect.vendor == "postgresql":
            return _execute_with_timeout(statements)
        with connection.cursor() as cursor:
            out = []
            for sql, params in statements:
                cursor.execute(sql, params)
                out.append(cursor.fetchall())
            return out
    except DatabaseError as exc:
        state = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
        if state == "57014":
            raise InvalidQuery("The query took too long; simplify the regular expression.")
        if state == "2201B":
            raise InvalidQuery("The regular expression is not valid.")
        raise


def _execute_with_timeout(statements: list[tuple[str, list[Any]]]) -> list[list[tuple]]:
    nested = connection.in_atomic_block
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL statement_timeout = {int(REGEX_TIMEOUT_MS)}")
        out = []
        for sql, params in statements:
            cursor.execute(sql, params)
            out.append(cursor.fetchall())
        if nested:
            # Inside a caller's transaction SET LOCAL would outlive this query: put the default back.
            cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
        return out


def _row(dialect: Dialect, raw: tuple) -> DocRow:
    return DocRow(
        id=raw[0],
        data=dialect.load_json(raw[1]) or {},
        acl=dialect.load_json(raw[2]) or {},
        created_at=dialect.load_time(raw[3]),
        updated_at=dialect.load_time(raw[4]),
        version=int(raw[5]),
        created_by=raw[6],
    )


def _sort_values(query: Query, row: DocRow, raw: tuple) -> list[Any]:
    out: list[Any] = []
    for key in query.order:
        if key.field is None:
            out.append(float(raw[7]))
        elif key.field.system:
            out.append({"id": row.id, "created_at": row.created_at, "updated_at": row.updated_at}[key.field.path[0]])
        else:
            value: Any = row.data
            for segment in key.field.path:
                value = value.get(segment) if isinstance(value, dict) else None
            out.append(value)
    return out

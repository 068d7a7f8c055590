"""Run parsed queries: one SELECT per page (+ one COUNT when asked), ACL filtered inside SQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
from django.db import DatabaseError, connection

from basalt.core.dberrors import DbFailure, classify
from basalt.core.errors import InvalidQuery
from basalt.core.pg_timestamps import fast_timestamps
from basalt.documents import statistics
from basalt.documents.query import budget
from basalt.documents.query.budget import Allowance
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.cursors import encode_cursor
from basalt.documents.query.dialects import Dialect, current_dialect
from basalt.documents.query.nodes import (
    And,
    AnyOf,
    ArrayEquals,
    Compare,
    ContainedBy,
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
    WithinPolygon,
)
from basalt.documents.query.parser import unknown_field

FETCH_CHUNK = 100
PROGRESS_STEPS = 10_000


def referenced_fields(query: Query) -> Iterator[tuple[FieldRef, str]]:
    """Every field a query filters or sorts on, with where it appears (for the protected-field check)."""
    stack: list[Node] = [query.where] if query.where is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or | Nor):
            stack.extend(node.children)
        elif isinstance(
            node,
            Compare
            | Exists
            | Regex
            | Contains
            | AnyOf
            | ArrayEquals
            | Search
            | Near
            | WithinBox
            | WithinPolygon
            | ContainedBy,
        ):
            yield node.field, "where"
    for key in query.order:
        if key.field is not None:
            yield key.field, "order"


def check_hidden(query: Query, hidden_fields: frozenset[str]) -> None:
    """Refuse a query that filters or sorts on a field the caller may not read.

    parse_query already refuses them when given the hidden set; this guards queries built without it."""
    if not hidden_fields:
        return
    for ref, purpose in referenced_fields(query):
        if not ref.system and ref.path[0] in hidden_fields:
            raise unknown_field(ref.path[0], purpose, ref.name)
    for name in query.fields or ():
        if name in hidden_fields:
            raise unknown_field(name, "fields")


def run_find(
    collection: Any,
    query: Query,
    principals: frozenset[str] | None,
    hidden_fields: frozenset[str] = frozenset(),
    allowance: Allowance | None = None,
) -> FindResult:
    """Return one page of documents the principals may read (all when principals is None)."""
    check_hidden(query, hidden_fields)
    dialect = current_dialect()
    compiler = Compiler(dialect, collection)
    allowance = allowance or budget.for_query()
    statement = compiler.select(query, principals, query.limit + 1, max(0, allowance.bytes_left), query.count)
    fetched = _execute(dialect, [statement], allowance)[0]
    count = None
    if query.count:
        # Each row ends with the count (the last column, after any distance). An empty page has no
        # row to carry it: without a cursor the count is then 0 (the same filter in the same
        # statement matched nothing); past a cursor it takes a statement of its own.
        if fetched:
            count = int(fetched[0][-1])
        elif query.after is None:
            count = 0
        else:
            count = int(_execute(dialect, [compiler.count(query, principals)], allowance)[0][0][0])
    rows = [_row(dialect, raw) for raw in fetched[: query.limit]]
    next_cursor = None
    if len(fetched) > query.limit:
        last_raw, last = fetched[query.limit - 1], rows[-1]
        next_cursor = encode_cursor(collection, query, _sort_values(query, last, last_raw))
    return FindResult(rows=rows, next_cursor=next_cursor, count=count)


def run_count(
    collection: Any,
    query: Query,
    principals: frozenset[str] | None,
    hidden_fields: frozenset[str] = frozenset(),
    allowance: Allowance | None = None,
) -> int:
    """Count every document matching `where` that the principals may read."""
    check_hidden(query, hidden_fields)
    dialect = current_dialect()
    statement = Compiler(dialect, collection).count(query, principals)
    return int(_execute(dialect, [statement], allowance or budget.for_query())[0][0][0])


def estimate_count(collection: Any, query: Query, principals: frozenset[str] | None) -> int | None:
    """The planner's estimate of what a count would return (PostgreSQL); None where there is none."""
    dialect = current_dialect()
    if dialect.vendor != "postgresql":
        return None
    # The rows the filter yields (one filter, as the count before its split into public and other
    # documents: `Compiler.count`), not the one row of the aggregate above them.
    where, params = Compiler(dialect, collection).filters(query, principals)
    return planner_rows(f"SELECT 1 FROM basalt_document WHERE {where}", params)  # noqa: S608


def planner_rows(select: str, params: list[Any] | None = None) -> int:
    """PostgreSQL: the rows the planner expects `select` to return (EXPLAIN, nothing run)."""
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + select, params or [])
        plan = cursor.fetchone()[0]
    if isinstance(plan, str | bytes):
        plan = orjson.loads(plan)
    return max(0, int(plan[0]["Plan"]["Plan Rows"]))


def fetch_by_ids(
    collection: Any, ids: list[str], principals: frozenset[str] | None, allowance: Allowance | None = None
) -> dict[str, DocRow]:
    """Load readable documents of one collection by id in a single query (for `expand`)."""
    wanted = list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))
    if not wanted:
        return {}
    dialect = current_dialect()
    allowance = allowance or budget.for_query()
    statement = Compiler(dialect, collection).by_ids(wanted, principals, max(0, allowance.bytes_left))
    fetched = _execute(dialect, [statement], allowance)[0]
    return {row.id: row for row in (_row(dialect, raw) for raw in fetched)}


def _execute(dialect: Dialect, statements: list[tuple[str, list[Any]]], allowance: Allowance) -> list[list[tuple]]:
    """Run statements under the allowance's deadline; the first one's rows are charged to its bytes."""
    seconds = allowance.seconds_left()
    try:
        if dialect.vendor == "postgresql":
            return _execute_postgres(statements, seconds, allowance)
        return _execute_sqlite(statements, seconds, allowance)
    except DatabaseError as exc:
        if classify(exc) is DbFailure.TIMEOUT:
            raise budget.too_slow(allowance) from None
        if getattr(exc.__cause__, "sqlstate", None) == "2201B":
            raise InvalidQuery("The regular expression is not valid.") from None
        raise


Statements = list[tuple[str, list[Any]]]


def _execute_postgres(statements: Statements, seconds: float, allowance: Allowance) -> list[list[tuple]]:
    # One round trip: a pipeline sends the settings and the statements before a single Sync, so they
    # share one implicit transaction and the LOCAL settings bound exactly them, while each statement
    # keeps its bound parameters (a multi-statement string could not be prepared by the server).
    # Inside a caller's transaction (an all-or-nothing batch) the settings are put back afterwards; a
    # cancelled statement fails that transaction, as any error does. The settings statements are not
    # logged: like SAVEPOINTs, they are plumbing of the round trip, not the query's work.
    connection.ensure_connection()
    raw = connection.connection
    cursors = []
    try:
        with connection.wrap_database_errors, raw.pipeline():
            raw.execute(SETTINGS, [str(max(1, int(seconds * 1000)))])
            for sql, params in statements:
                cursors.append(connection.cursor())
                fast_timestamps(cursors[-1])
                cursors[-1].execute(sql, params)
            if connection.in_atomic_block:
                for reset in RESET_SETTINGS:
                    raw.execute(reset)
            return [_fetch(cursor, allowance if index == 0 else None) for index, cursor in enumerate(cursors)]
    finally:
        for cursor in cursors:
            cursor.close()


# A prepared find may run on PostgreSQL's generic plan, made once per connection for any values,
# which it adopts only when its estimate is no worse than the plans made for the values it saw:
# planning a find cost three times running it (0.41 against 0.14 ms). That estimate holds since
# the ACL test names public documents by a constant (`PostgresDialect.principals`).
SETTINGS = "SELECT set_config('statement_timeout', %s, true)"
RESET_SETTINGS = ("SET LOCAL statement_timeout TO DEFAULT",)


def _execute_sqlite(statements: Statements, seconds: float, allowance: Allowance) -> list[list[tuple]]:
    # SQLite calls the handler every PROGRESS_STEPS virtual-machine steps of this connection; a
    # true answer interrupts the statement (SQLITE_INTERRUPT), which _execute reports as too slow.
    connection.ensure_connection()
    statistics.sqlite_statistics_current()
    raw = connection.connection
    deadline = time.monotonic() + seconds
    raw.set_progress_handler(lambda: time.monotonic() > deadline, PROGRESS_STEPS)
    try:
        with connection.cursor() as cursor:
            out = []
            for index, (sql, params) in enumerate(statements):
                cursor.execute(sql, params)
                out.append(_fetch(cursor, allowance if index == 0 else None))
            return out
    finally:
        raw.set_progress_handler(None, 0)


def _fetch(cursor: Any, allowance: Allowance | None) -> list[tuple]:
    """Fetch in chunks, charging each document row's size as it arrives (SQLite streams them)."""
    if allowance is None:
        return list(cursor.fetchall())
    rows: list[tuple] = []
    while chunk := cursor.fetchmany(FETCH_CHUNK):
        for raw in chunk:
            allowance.spend(row_size(raw))
        rows.extend(chunk)
    return rows


def row_size(raw: tuple) -> int:
    """The bytes of a row's data and acl JSON as received: the same measure as `Dialect.row_bytes`."""
    total = 0
    for part in raw[1:3]:
        if isinstance(part, str):
            total += len(part.encode())
        else:
            total += len(part) if isinstance(part, bytes) else len(orjson.dumps(part))
    return total


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

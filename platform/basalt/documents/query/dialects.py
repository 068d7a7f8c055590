"""The one vendor seam of the query engine: how PostgreSQL (jsonb) and SQLite (JSON1) spell things.

Both dialects give the same answers (the property test checks it): missing and `null` are the
same value and sort lowest; comparisons are type-strict (the string "5" never equals 5); range
operators only match values of the operand's JSON type. Field paths are inlined as literals (their
segments are validated identifiers) so that index expressions and query expressions are the same
text and the planner can use the index; every value is a bound parameter.
"""

# ruff: noqa: S608 -- SQL text here is built only from our own fragments and validated identifiers;
# every client value travels as a bound parameter.

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection
from django.utils.dateparse import parse_datetime

from basalt.documents.query import re2match
from basalt.documents.query.nodes import And, FieldRef

# The principal every reader has: a document readable by anyone lists it in `read_principals`.
PUBLIC = "*"

Sql = tuple[str, list[Any]]
EARTH_KM = 6371.0088
# to_tsvector needs at most ~6 bytes per input byte, so 64 KiB stays well below its 1 MB limit.
SEARCH_VECTOR_MAX_BYTES = 65536
_OPS = {"$eq": "=", "$ne": "<>", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}


def json_kind(value: Any) -> str:
    """The JSON type of a stored-form scalar: null, boolean, number or string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "string"


class Dialect:
    vendor = ""
    # A document row as the engine reads it (engine._row), in this order.
    document_columns = "id, data, acl, created_at, updated_at, version, created_by"
    # Whether the driver hands rows over one by one (so a byte budget can stop a fetch midway).
    streams_rows = False

    def splits_count(self, query) -> bool:
        """Whether a reader's count of `query` is asked as public documents plus the others (Compiler.count)."""
        return False

    def kept_count(self, collection_id: int, public: bool) -> str | None:
        """An expression for the count of a collection's documents (`public`: of the public ones
        principals_not_public leaves out) kept by the database as they are written, or None where
        none is kept (the public part is then counted by public_only())."""
        return None

    def row_bytes(self) -> str:
        """The size in bytes of a row's data and acl as the driver receives them (engine.row_size)."""
        raise NotImplementedError

    # --- system columns (the same on both) ---------------------------------------------------
    def column(self, ref: FieldRef) -> str:
        return {"id": "id", "created_at": "created_at", "updated_at": "updated_at"}[ref.path[0]]

    def system_param(self, value: Any) -> Any:
        return value

    def sort_expr(self, ref: FieldRef) -> str:
        return self.column(ref) if ref.system else self.value(ref)

    def value(self, ref: FieldRef) -> str:
        raise NotImplementedError

    def load_json(self, raw: Any) -> Any:
        if raw is None or isinstance(raw, dict | list):
            return raw
        return orjson.loads(raw)

    def load_time(self, raw: Any) -> datetime:
        return raw


class PostgresDialect(Dialect):
    vendor = "postgresql"

    def splits_count(self, query) -> bool:
        return True

    def row_bytes(self) -> str:
        return "(octet_length(data::text) + octet_length(acl::text))"

    def raw(self, ref: FieldRef, as_text: bool = False) -> str:
        arrow = "->>" if as_text else "->"
        if len(ref.path) == 1:
            return f"(data {arrow} '{ref.path[0]}')"
        return f"(data {arrow.replace('-', '#')} '{{{','.join(ref.path)}}}')"

    def value(self, ref: FieldRef) -> str:
        # COALESCE folds "missing" into JSON null: one value, no SQL NULLs, so row comparisons and
        # index range scans work on cursors and null sorts lowest, as on SQLite.
        return f"COALESCE({self.raw(ref)}, 'null'::jsonb)"

    def typed(self, ref: FieldRef, kind: str) -> str:
        return f"jsonb_typeof({self.value(ref)}) = '{kind}'"

    def param(self, value: Any) -> Sql:
        return "%s::jsonb", [orjson.dumps(value).decode()]

    def compare(self, ref: FieldRef, op: str, value: Any) -> Sql:
        expr = self.value(ref)
        if op in ("$in", "$nin"):
            sql = f"{expr} = ANY(%s::jsonb[])"
            params = [[orjson.dumps(v).decode() for v in value]]
            return (sql if op == "$in" else f"NOT ({sql})"), params
        placeholder, params = self.param(value)
        sql = f"{expr} {_OPS[op]} {placeholder}"
        if op in ("$lt", "$lte", "$gt", "$gte"):
            if ref.type is None:
                # Inside an object any JSON type may sit there: compare only like with like.
                sql = f"({self.typed(ref, json_kind(value))} AND {sql})"
            elif op in ("$lt", "$lte"):
                # A typed field holds only its own type (writes are validated) or null, and jsonb
                # sorts null lowest: a second range bound excludes it and keeps estimates sane.
                sql = f"({expr} > 'null'::jsonb AND {sql})"
        return sql, params

    def exists(self, ref: FieldRef, present: bool) -> Sql:
        return f"{self.value(ref)} {'<>' if present else '='} 'null'::jsonb", []

    def regex(self, ref: FieldRef, pattern: str, ignore_case: bool) -> Sql:
        op = "~*" if ignore_case else "~"
        return f"({self.typed(ref, 'string')} AND {self.raw(ref, True)} {op} %s)", [pattern]

    def contains(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        # Only an array contains an array (jsonb's one exception runs the other way: an array contains
        # a scalar), so no type test: `jsonb_typeof(…) = 'array'` was estimated at 0.5% of rows, and
        # the planner then fetched every match through the GIN index and sorted them (3,765 rows,
        # 10-17 ms) where walking the requested order to the page's end took 0.4 ms.
        return f"{self.value(ref)} @> %s::jsonb", [orjson.dumps(list(items)).decode()]

    def any_of(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        if items and all(isinstance(item, str | int | float | bool) or item is None for item in items):
            # For scalars "has an element equal to x" is exactly "contains [x]": an OR of
            # containments, which a GIN index on the array (indexes.index_ddl) serves.
            # No type test, as in `contains`.
            tests = " OR ".join(f"{self.value(ref)} @> %s::jsonb" for _ in items)
            return f"({tests})", [orjson.dumps([item]).decode() for item in items]
        sql = (
            f"({self.typed(ref, 'array')} AND EXISTS (SELECT 1 FROM jsonb_array_elements({self.value(ref)}) el "
            "WHERE el.value = ANY(%s::jsonb[])))"
        )
        return sql, [[orjson.dumps(v).decode() for v in items]]

    def array_equals(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        return f"{self.value(ref)} = %s::jsonb", [orjson.dumps(list(items)).decode()]

    def contained_by(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        # Elements are scalars (parser._elements), for which jsonb containment is element equality.
        return f"({self.typed(ref, 'array')} AND {self.value(ref)} <@ %s::jsonb)", [orjson.dumps(list(items)).decode()]

    def search(self, ref: FieldRef, text: str, tokens: tuple[str, ...]) -> Sql:
        # A tsvector holds at most 1 MB, so to_tsvector fails on a long text of distinct words, and
        # one such document would break every search of its collection. Texts up to
        # SEARCH_VECTOR_MAX_BYTES (whose vector stays far below that bound) use the vector; longer
        # ones are matched word by word (`\\m…\\M`, the same unit), which cannot fail.
        field = self.raw(ref, True)
        words = list(dict.fromkeys(tokens))
        by_word = " AND ".join([f"{field} ~* %s"] * len(words))
        sql = (
            f"({self.typed(ref, 'string')} AND CASE WHEN octet_length({field}) <= {SEARCH_VECTOR_MAX_BYTES} "
            f"THEN {self.search_vector(ref)} @@ plainto_tsquery('simple', %s) ELSE ({by_word}) END)"
        )
        return sql, [" ".join(tokens), *(rf"\m{word}\M" for word in words)]

    def search_vector(self, ref: FieldRef) -> str:
        return f"to_tsvector('simple', COALESCE({self.raw(ref, True)}, ''))"

    def coordinate(self, ref: FieldRef, axis: str) -> str:
        path = "{" + ",".join((*ref.path, axis)) + "}"
        return f"(CASE WHEN jsonb_typeof(data #> '{path}') = 'number' THEN (data #>> '{path}')::float8 END)"

    def principals(self, principals: frozenset[str]) -> Sql:
        if PUBLIC not in principals:
            return "read_principals ?| %s::text[]", [sorted(principals)]
        # Public documents tested with a constant: PostgreSQL then estimates their share from the
        # column's statistics even in a plan made once for any reader (a prepared statement's generic
        # plan). Behind a parameter alone it guessed 1% and scanned every public document through the
        # ACL's GIN index instead of the collection's declared one (tests/documents/test_query_plans.py).
        return f"(read_principals ? '{PUBLIC}' OR read_principals ?| %s::text[])", [sorted(principals - {PUBLIC})]

    def public_only(self) -> str:
        """Public documents: the very predicate of the partial index `doc_public` (migration 0013),
        so the planner can answer a count of them from that index."""
        return f"read_principals ? '{PUBLIC}'"

    def principals_not_public(self, principals: frozenset[str]) -> Sql:
        """Documents that are not public but that one of `principals` (none of them `*`) may read."""
        return f"NOT (read_principals ? '{PUBLIC}') AND read_principals ?| %s::text[]", [sorted(principals)]

    def ids_in(self, ids: list[str]) -> Sql:
        return "id = ANY(%s::text[])", [list(ids)]

    def asin_clamp(self, expr: str) -> str:
        return f"LEAST(1.0, {expr})"

    def order_term(self, expr: str, descending: bool) -> str:
        return f"{expr} {'DESC' if descending else 'ASC'}"

    def key_param(self, ref: FieldRef | None, value: Any) -> Sql:
        if ref is None:
            return "%s::float8", [value]
        if ref.system:
            return "%s", [value]
        return self.param(value)

    def key_eq(self, expr: str, ref: FieldRef | None, value: Any) -> Sql:
        placeholder, params = self.key_param(ref, value)
        return f"{expr} = {placeholder}", params

    def key_after(self, expr: str, ref: FieldRef | None, value: Any, descending: bool) -> Sql:
        placeholder, params = self.key_param(ref, value)
        return f"{expr} {'<' if descending else '>'} {placeholder}", params

    def row_after(self, exprs: list[str], keys: list[tuple[FieldRef | None, Any]], descending: bool) -> Sql | None:
        """One row comparison when every key runs the same way: PostgreSQL seeks it in the index."""
        placeholders, params = [], []
        for ref, value in keys:
            placeholder, p = self.key_param(ref, value)
            placeholders.append(placeholder)
            params.extend(p)
        op = "<" if descending else ">"
        return f"({', '.join(exprs)}) {op} ({', '.join(placeholders)})", params


def sqlite_holds_principal(column: str, principals: frozenset[str]) -> Sql:
    """SQLite: does `column`, a JSON array of strings stored as text, hold one of `principals`?

    `json_each` opens a cursor and parses the array for every row (0.4 µs each, 60% of a signed-in
    count's time on 20,000 posts), so a row whose text has no backslash is tested by substring:
    without an escape no string can contain a quote, the quotes alternate opening and closing, and
    the needle `"p"` (p free of quotes, backslashes and control characters) can only start at an
    element's opening quote and end at its closing one, i.e. only match an element that is p.
    Starting at a closing quote it would span a separator, which only a p made of commas and
    spaces could equal: those fall back to `json_each` for every row. A row with any backslash
    (an escaped quote, or `\\uXXXX` as json.dumps writes non-ASCII) is tested by `json_each`, so
    neither a crafted element (`q"u:abc`, stored `"q\\"u:abc"`) nor either writer's escaping
    (orjson's raw UTF-8, json.dumps's ASCII) changes the answer. A principal that needs an escape
    is never found without a backslash, so it takes no needle. `column` is our own SQL text.
    """
    ordered = sorted(principals, key=lambda p: (p != PUBLIC, p))  # most rows are public: test it first
    marks = ", ".join(["%s"] * len(ordered))
    exact = f"EXISTS (SELECT 1 FROM json_each({column}) WHERE value IN ({marks}))"
    if any(p and not p.strip(" ,") for p in ordered):
        return exact, ordered
    needles = [f'"{p}"' for p in ordered if not _JSON_ESCAPED.search(p)]
    escaped = f"(instr({column}, char(92)) > 0 AND {exact})"
    if not needles:
        return escaped, ordered
    # Not a CASE WHEN: SQLite evaluated that form (even with ELSE 0) at 10.4 ms for 20,000 rows, this at 5.8.
    found = " OR ".join([f"instr({column}, %s) > 0"] * len(needles))
    return f"((({found}) AND instr({column}, char(92)) = 0) OR {escaped})", [*needles, *ordered]


# The characters a JSON writer must escape inside a string (so they come with a backslash).
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')


class SqliteDialect(Dialect):
    vendor = "sqlite"
    streams_rows = True  # sqlite3 steps the statement as rows are fetched
    # The times as their stored text: for a column declared `datetime` Django's converter parsed
    # each with a regular expression (twice a row) and load_time then only set the zone; an
    # expression has no declared type, so the text comes through and load_time parses it once with
    # fromisoformat. Aliases of their own: a result column named created_at would be what SQLite's
    # ORDER BY created_at sorts by, an expression no index serves.
    document_columns = (
        "id, data, acl, created_at || '' AS created_text, updated_at || '' AS updated_text, version, created_by"
    )

    def path(self, ref: FieldRef) -> str:
        return "'$." + ".".join(ref.path) + "'"

    def value(self, ref: FieldRef) -> str:
        return f"json_extract(data, {self.path(ref)})"

    def type_of(self, ref: FieldRef) -> str:
        return f"json_type(data, {self.path(ref)})"

    def system_param(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return connection.ops.adapt_datetimefield_value(value)
        return value

    def load_time(self, raw: Any) -> datetime:
        if isinstance(raw, datetime):
            return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
        try:
            # Django stores naive UTC text; parsing it with its zone spelled out is a quarter of the
            # cost of parsing and then replace(tzinfo=...), twice per document of a page.
            return datetime.fromisoformat(raw + "+00:00")
        except (TypeError, ValueError):
            pass
        parsed = parse_datetime(raw)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def _guard(self, type_expr: str, value: Any) -> str:
        kind = json_kind(value)
        if kind == "boolean":
            return f"{type_expr} = '{'true' if value else 'false'}'"
        if kind == "number":
            return f"{type_expr} IN ('integer', 'real')"
        return f"{type_expr} = 'text'"

    def _eq(self, expr: str, type_expr: str, value: Any) -> Sql:
        if value is None:
            return f"{expr} IS NULL", []
        if isinstance(value, bool):
            return self._guard(type_expr, value), []
        return f"({self._guard(type_expr, value)} AND {expr} = %s)", [value]

    def _in(self, expr: str, type_expr: str, items: tuple[Any, ...]) -> Sql:
        parts, params = [], []
        groups: dict[str, list[Any]] = {}
        for item in items:
            groups.setdefault(json_kind(item), []).append(item)
        for kind, group in groups.items():
            if kind in ("null", "boolean"):
                for item in dict.fromkeys(group):
                    sql, p = self._eq(expr, type_expr, item)
                    parts.append(sql)
                    params.extend(p)
            else:
                parts.append(f"({self._guard(type_expr, group[0])} AND {expr} IN ({', '.join(['%s'] * len(group))}))")
                params.extend(group)
        return ("(" + " OR ".join(parts) + ")") if parts else "0", params

    def compare(self, ref: FieldRef, op: str, value: Any) -> Sql:
        expr, type_expr = self.value(ref), self.type_of(ref)
        if op in ("$in", "$nin"):
            sql, params = self._in(expr, type_expr, value)
            return (sql if op == "$in" else f"NOT COALESCE({sql}, 0)"), params
        if op in ("$eq", "$ne"):
            sql, params = self._eq(expr, type_expr, value)
            return (sql if op == "$eq" else f"NOT COALESCE({sql}, 0)"), params
        if ref.type in ("number", "string") and ref.type == json_kind(value):
            # A declared number or string field holds only its type (writes are validated) or
            # nothing (NULL, which no range matches): the type test only made a count read every
            # document instead of the declared index alone (19,300 posts: 25 ms against 0.8 ms).
            return f"{expr} {_OPS[op]} %s", [value]
        return f"({self._guard(type_expr, value)} AND {expr} {_OPS[op]} %s)", [value]

    def exists(self, ref: FieldRef, present: bool) -> Sql:
        return f"{self.value(ref)} IS {'NOT ' if present else ''}NULL", []

    def regex(self, ref: FieldRef, pattern: str, ignore_case: bool) -> Sql:
        # RE2, not Django's REGEXP (Python `re`): see re2match.py for why.
        return (
            f"({self.type_of(ref)} = 'text' AND {re2match.FUNCTION}(%s, {self.value(ref)}))",
            [re2match.translate(pattern, ignore_case)],
        )

    def contains(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        parts, params = [f"{self.type_of(ref)} = 'array'"], []
        for item in items:
            sql, p = self._eq("value", "type", item)
            parts.append(f"EXISTS (SELECT 1 FROM json_each(data, {self.path(ref)}) WHERE {sql})")
            params.extend(p)
        return "(" + " AND ".join(parts) + ")", params

    def any_of(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        sql, params = self._in("value", "type", items)
        return (
            f"({self.type_of(ref)} = 'array' AND EXISTS (SELECT 1 FROM json_each(data, {self.path(ref)}) WHERE {sql}))"
        ), params

    def contained_by(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        sql, params = self._in("value", "type", items)
        return (
            f"({self.type_of(ref)} = 'array' AND NOT EXISTS (SELECT 1 FROM json_each(data, {self.path(ref)}) "
            f"WHERE NOT COALESCE({sql}, 0)))"
        ), params

    def array_equals(self, ref: FieldRef, items: tuple[Any, ...]) -> Sql:
        # Element by element: comparing JSON texts would depend on how each writer escaped them.
        parts = [f"{self.type_of(ref)} = 'array'", f"json_array_length(data, {self.path(ref)}) = %s"]
        params: list[Any] = [len(items)]
        for index, item in enumerate(items):
            element = FieldRef((*ref.path[:-1], f"{ref.path[-1]}[{index}]"), None)
            sql, p = self._eq(self.value(element), self.type_of(element), item)
            parts.append(sql)
            params.extend(p)
        return "(" + " AND ".join(parts) + ")", params

    def search(self, ref: FieldRef, text: str, tokens: tuple[str, ...]) -> Sql:
        parts, params = [f"{self.type_of(ref)} = 'text'"], []
        for token in dict.fromkeys(tokens):
            parts.append(f"{re2match.FUNCTION}(%s, {self.value(ref)})")
            params.append(re2match.word_pattern(token))
        return "(" + " AND ".join(parts) + ")", params

    def coordinate(self, ref: FieldRef, axis: str) -> str:
        path = "'$." + ".".join((*ref.path, axis)) + "'"
        return f"(CASE WHEN json_type(data, {path}) IN ('integer', 'real') THEN json_extract(data, {path}) END)"

    def principals(self, principals: frozenset[str]) -> Sql:
        return sqlite_holds_principal("read_principals", principals)

    # A count of all documents splits like PostgreSQL's (Compiler.count): the public documents, which
    # backslash-free text names exactly by `"*"` (sqlite_holds_principal), are counted by triggers as
    # they are written (migration 0015, kept_count); the rest, rows with a backslash included, are in
    # the partial index `doc_not_public` with their read_principals, tested as before. The terms are
    # written out as literals because SQLite matches a partial index's WHERE to the statement's term
    # by term, and never to a parameter.
    PUBLIC_BY_TEXT = f"instr(read_principals, '\"{PUBLIC}\"') > 0 AND instr(read_principals, char(92)) = 0"
    NOT_PUBLIC_BY_TEXT = f"(instr(read_principals, '\"{PUBLIC}\"') = 0 OR instr(read_principals, char(92)) > 0)"

    def splits_count(self, query) -> bool:
        # With a `where` the declared index's range (it ends in read_principals) is the cheaper way.
        where = None if query is None else query.where
        return where is None or (isinstance(where, And) and not where.children)  # `{}`: everything

    def kept_count(self, collection_id: int, public: bool) -> str:
        column = "public" if public else "total"
        return f"COALESCE((SELECT {column} FROM basalt_document_count WHERE collection_id = {int(collection_id)}), 0)"

    def principals_not_public(self, principals: frozenset[str]) -> Sql:
        """The documents outside PUBLIC_BY_TEXT that `principals` or `*` may read (public ones with a backslash)."""
        holds, params = sqlite_holds_principal("read_principals", principals | {PUBLIC})
        return f"{self.NOT_PUBLIC_BY_TEXT} AND {holds}", params

    def ids_in(self, ids: list[str]) -> Sql:
        return f"id IN ({', '.join(['%s'] * len(ids))})", list(ids)

    def asin_clamp(self, expr: str) -> str:
        return f"MIN(1.0, {expr})"

    def order_term(self, expr: str, descending: bool) -> str:
        # SQLite's default already puts NULL lowest: first ascending, last descending.
        return f"{expr} {'DESC' if descending else 'ASC'}"

    def key_eq(self, expr: str, ref: FieldRef | None, value: Any) -> Sql:
        if value is None:
            return f"{expr} IS NULL", []
        return f"{expr} = %s", [self._key_value(ref, value)]

    def key_after(self, expr: str, ref: FieldRef | None, value: Any, descending: bool) -> Sql:
        if value is None:
            return ("0", []) if descending else (f"{expr} IS NOT NULL", [])
        if descending:
            return f"({expr} < %s OR {expr} IS NULL)", [self._key_value(ref, value)]
        return f"{expr} > %s", [self._key_value(ref, value)]

    def _key_value(self, ref: FieldRef | None, value: Any) -> Any:
        if ref is not None and ref.system:
            return self.system_param(value)
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        return value

    def row_after(self, exprs: list[str], keys: list[tuple[FieldRef | None, Any]], descending: bool) -> Sql | None:
        return None


def current_dialect() -> Dialect:
    return _DIALECTS[connection.vendor]


_DIALECTS: dict[str, Dialect] = {"postgresql": PostgresDialect(), "sqlite": SqliteDialect()}

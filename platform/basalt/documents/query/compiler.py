"""Compile a validated Query into one parameterised SELECT for the current database."""

# ruff: noqa: S608 -- SQL text here is built only from our own fragments and validated identifiers;
# every client value travels as a bound parameter.

from __future__ import annotations

from typing import Any

from basalt.core.errors import InvalidQuery
from basalt.documents.query.dialects import EARTH_KM, PUBLIC, Dialect, Sql
from basalt.documents.query.nodes import (
    And,
    AnyOf,
    ArrayEquals,
    Compare,
    ContainedBy,
    Contains,
    Exists,
    FieldRef,
    Near,
    Node,
    Nor,
    Or,
    OrderKey,
    Query,
    Regex,
    RelatedTo,
    Search,
    WithinBox,
    WithinPolygon,
)
from basalt.documents.query.values import timestamp

# The page's columns by name, where a statement wraps the page (PostgreSQL's cut by bytes).
COLUMNS = Dialect.document_columns
# A statement returning at most this many rows is not cut by bytes (see `select`).
UNCUT_ROWS = 2
TRUE, FALSE = "1 = 1", "1 = 0"


class Compiler:
    def __init__(self, dialect: Dialect, collection: Any):
        self.d = dialect
        self.collection = collection
        # The reader's principals, set by filters(): `$related_to` also needs its source readable.
        self.principals: frozenset[str] | None = None

    # --- where --------------------------------------------------------------------------------
    def node(self, node: Node) -> Sql:
        if isinstance(node, And | Or | Nor):
            if not node.children:  # `{}` matches everything
                return (FALSE if isinstance(node, Or) else TRUE), []
            parts, params = [], []
            for child in node.children:
                sql, p = self.node(child)
                parts.append(f"({sql})")
                params.extend(p)
            joined = (" AND " if isinstance(node, And) else " OR ").join(parts)
            return (f"NOT COALESCE(({joined}), {FALSE})" if isinstance(node, Nor) else joined), params
        if isinstance(node, Compare):
            return self.system_compare(node) if node.field.system else self.d.compare(node.field, node.op, node.value)
        if isinstance(node, Exists):
            if node.field.system:
                return (TRUE if node.present else FALSE), []
            return self.d.exists(node.field, node.present)
        if isinstance(node, Regex):
            return self.d.regex(node.field, node.pattern, node.ignore_case)
        if isinstance(node, Contains):
            return self.d.contains(node.field, node.values)
        if isinstance(node, AnyOf):
            return self.d.any_of(node.field, node.values)
        if isinstance(node, ArrayEquals):
            return self.d.array_equals(node.field, node.values)
        if isinstance(node, Search):
            return self.d.search(node.field, node.text, node.tokens)
        if isinstance(node, RelatedTo):
            return self.related_to(node)
        if isinstance(node, Near):
            return self.near_filter(node)
        if isinstance(node, WithinBox):
            return self.within_box(node)
        if isinstance(node, WithinPolygon):
            return self.within_polygon(node)
        if isinstance(node, ContainedBy):
            return self.d.contained_by(node.field, node.values)
        raise TypeError(f"unknown node {type(node).__name__}")

    def system_compare(self, node: Compare) -> Sql:
        column = self.d.column(node.field)
        if node.op in ("$in", "$nin"):
            items = [self.d.system_param(v) for v in node.value if v is not None]
            if not items:
                return (FALSE if node.op == "$in" else TRUE), []
            sql = f"{column} IN ({', '.join(['%s'] * len(items))})"
            return (sql if node.op == "$in" else f"NOT ({sql})"), items
        if node.value is None:
            return (FALSE if node.op == "$eq" else TRUE), []
        op = {"$eq": "=", "$ne": "<>", "$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}[node.op]
        return f"{column} {op} %s", [self.d.system_param(node.value)]

    def related_to(self, node: RelatedTo) -> Sql:
        # Resolved inside SQL and scoped to the caller's project: another project's collection
        # or document simply matches nothing, and parsing costs no query. The source document
        # must be readable by the same principals, else the edges of a role (or any document)
        # one may not read would leak; unreadable matches nothing, exactly like non-existent.
        sql = (
            "id IN (SELECT r.to_id FROM basalt_relation r WHERE r.project_id = %s AND r.field = %s "
            "AND r.from_id = %s AND r.collection_id = (SELECT c.id FROM basalt_collection c "
            "WHERE c.project_id = %s AND c.name = %s)"
        )
        params = [self.collection.project_id, node.field, node.id, self.collection.project_id, node.collection]
        if self.principals is None:
            return sql + ")", params
        if not self.principals:
            return FALSE, []
        # Unqualified `read_principals` in the dialect's test binds to `src`, the innermost table.
        readable, readable_params = self.d.principals(self.principals)
        sql += (
            " AND EXISTS (SELECT 1 FROM basalt_document src WHERE src.collection_id = r.collection_id "
            f"AND src.id = r.from_id AND {readable}))"
        )
        return sql, [*params, *readable_params]

    def distance(self, near: Near) -> Sql:
        lat, lng = self.d.coordinate(near.field, "lat"), self.d.coordinate(near.field, "lng")
        haversine = (
            f"POWER(SIN(RADIANS({lat} - %s) / 2), 2) + COS(RADIANS(%s)) * COS(RADIANS({lat})) "
            f"* POWER(SIN(RADIANS({lng} - %s) / 2), 2)"
        )
        return f"({2 * EARTH_KM!r} * ASIN(SQRT({self.d.asin_clamp(haversine)})))", [near.lat, near.lat, near.lng]

    def near_filter(self, near: Near) -> Sql:
        lat, lng = self.d.coordinate(near.field, "lat"), self.d.coordinate(near.field, "lng")
        sql = f"{lat} IS NOT NULL AND {lng} IS NOT NULL"
        if near.max_km is None:
            return sql, []
        dist, params = self.distance(near)
        return f"{sql} AND {dist} <= %s", [*params, near.max_km]

    def within_box(self, box: WithinBox) -> Sql:
        lat, lng = self.d.coordinate(box.field, "lat"), self.d.coordinate(box.field, "lng")
        if box.west <= box.east:
            return f"{lat} BETWEEN %s AND %s AND {lng} BETWEEN %s AND %s", [box.south, box.north, box.west, box.east]
        # A box whose west edge is east of its east edge crosses the antimeridian.
        return f"{lat} BETWEEN %s AND %s AND ({lng} >= %s OR {lng} <= %s)", [box.south, box.north, box.west, box.east]

    def within_polygon(self, polygon: WithinPolygon) -> Sql:
        # Even-odd rule: a ray from the point towards +lng crosses an odd number of edges. Each
        # edge's slope is computed here, so SQL never divides; a horizontal edge is never crossed.
        lat, lng = self.d.coordinate(polygon.field, "lat"), self.d.coordinate(polygon.field, "lng")
        terms, params = [], []
        vertices = polygon.vertices
        for (lat1, lng1), (lat2, lng2) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
            if lat1 == lat2:
                continue
            terms.append(f"CASE WHEN {lat} >= %s AND {lat} < %s AND {lng} < %s * ({lat} - %s) + %s THEN 1 ELSE 0 END")
            params += [min(lat1, lat2), max(lat1, lat2), (lng2 - lng1) / (lat2 - lat1), lat1, lng1]
        if not terms:
            return FALSE, []
        return f"({lat} IS NOT NULL AND {lng} IS NOT NULL AND MOD({' + '.join(terms)}, 2) = 1)", params

    # --- order and keyset -----------------------------------------------------------------------
    def key_expr(self, key: OrderKey, query: Query) -> Sql:
        if key.field is None:
            return self.distance(query.near)
        return self.d.sort_expr(key.field), []

    def order_by(self, query: Query) -> Sql:
        """The ORDER BY terms."""
        terms, params = [], []
        for key in query.order:
            expr, p = self.key_expr(key, query)
            terms.append(self.d.order_term(expr, key.descending))
            params.extend(p)
        return ", ".join(terms), params

    def after(self, query: Query, sort_values: list[Any]) -> Sql:
        pairs = zip(query.order, sort_values, strict=True)
        keys = [(key.field, self._cursor_value(key.field, value)) for key, value in pairs]
        exprs, expr_params = [], []
        for key in query.order:
            expr, p = self.key_expr(key, query)
            exprs.append(expr)
            expr_params.append(p)
        directions = {key.descending for key in query.order}
        if len(directions) == 1 and not any(expr_params):
            row = self.d.row_after(exprs, keys, directions.pop())
            if row is not None:
                return row
        alternatives, params = [], []
        for i, key in enumerate(query.order):
            parts = []
            for j in range(i):
                sql, p = self.d.key_eq(exprs[j], keys[j][0], keys[j][1])
                parts.append(sql)
                params.extend(expr_params[j] + p)
            sql, p = self.d.key_after(exprs[i], keys[i][0], keys[i][1], key.descending)
            parts.append(sql)
            params.extend(expr_params[i] + p)
            alternatives.append("(" + " AND ".join(parts) + ")")
        return "(" + " OR ".join(alternatives) + ")", params

    def _cursor_value(self, ref: FieldRef | None, value: Any) -> Any:
        if ref is None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidQuery("The cursor is invalid.", details={"parameter": "cursor"})
            return float(value)
        if ref.system and ref.path[0] != "id":
            return timestamp(value, "cursor")
        return value

    # --- statements -----------------------------------------------------------------------------
    def filters(
        self,
        query: Query | None,
        principals: frozenset[str] | None,
        extra: Sql | None = None,
        acl: bool = True,
    ) -> Sql:
        """The WHERE clause: the collection, the read ACL for `principals` (unless `acl` is false: the
        caller's `extra` tests it), `extra`, then the query's `where`. `$related_to` checks its
        source document's ACL with `principals` either way."""
        # The collection id is inlined (an integer from our own table) so PostgreSQL matches the
        # partial indexes' `WHERE collection_id = N` predicate.
        parts, params = [f"collection_id = {int(self.collection.pk)}"], []
        self.principals = principals
        if extra is not None:
            parts.append(extra[0])
            params.extend(extra[1])
        if principals is not None and acl:
            if not principals:
                parts.append(FALSE)
            else:
                sql, p = self.d.principals(principals)
                parts.append(sql)
                params.extend(p)
        if query is not None and query.where is not None:
            sql, p = self.node(query.where)
            parts.append(f"({sql})")
            params.extend(p)
        return " AND ".join(parts), params

    def select(
        self,
        query: Query,
        principals: frozenset[str] | None,
        limit: int,
        max_bytes: int | None = None,
        with_count: bool = False,
    ) -> Sql:
        """The page; with `max_bytes`, cut in SQL after the first row that takes it past that many
        bytes where the driver cannot stream (PostgreSQL's client holds a whole result). With
        `with_count`, every row ends with one more column, the count of the whole match (`count`,
        which ignores the cursor), computed once by the same statement: a page and its count then
        cost one statement, planned and run together, not two (an empty page has no row to carry
        it: see `engine.run_find`)."""
        count = self.count(query, principals) if with_count else None
        # The cut always lets the first row through, whatever its size, so a page of two rows (limit
        # 1: how a count is asked with its page) would hold at most one more row for it: cut, it
        # cost a third more planning and a window over two rows (README "Budgets").
        if max_bytes is None or self.d.streams_rows or limit <= UNCUT_ROWS:
            return self._page(query, principals, limit, count=count)
        # The page carries its sort keys as columns (`_k0`, `_k1`, ...), and the running sum and the
        # final order name those columns: PostgreSQL then sees that the page already comes in that
        # order. Ordered by the key expressions recomputed over the page's `data`, it sorted the
        # page twice more (a find of 21 rows: 0.22-0.26 ms to run, 0.10 ms this way).
        sql, params = self._page(query, principals, limit, keyed=True, count=count)
        order = ", ".join(
            self.d.order_term("distance" if key.field is None else f"_k{i}", key.descending)
            for i, key in enumerate(query.order)
        )
        columns = f"{COLUMNS}, distance" if query.near is not None else COLUMNS
        if count is not None:
            columns += ", _count"
        return self._cut_at_bytes(sql, params, order, [], max_bytes, columns)

    def _cut_at_bytes(
        self, sql: str, params: list[Any], order: str, order_params: list[Any], max_bytes: int, columns: str = COLUMNS
    ) -> Sql:
        # Rows stay while the bytes ahead of them fit, so the first row past the budget still comes
        # back and the engine, counting the same bytes, refuses the page instead of shortening it.
        size = self.d.row_bytes()
        sized = (
            f"SELECT {columns} FROM (SELECT page.*, SUM({size}) OVER (ORDER BY {order} ROWS UNBOUNDED PRECEDING) "  # noqa: S608
            f"- {size} AS _before FROM ({sql}) page) sized WHERE _before <= {int(max_bytes)} ORDER BY {order}"
        )
        return sized, [*order_params, *params, *order_params]

    def _page(
        self,
        query: Query,
        principals: frozenset[str] | None,
        limit: int,
        keyed: bool = False,
        count: Sql | None = None,
    ) -> Sql:
        """The page's statement; `keyed` adds each sort key as a column `_k<i>` (see `select`), `count`
        the column `_count` after the others (an uncorrelated sub-select: run once, not per row)."""
        where, params = self.filters(query, principals)
        select_params: list[Any] = []
        columns = self.d.document_columns
        if query.near is not None:
            dist, select_params = self.distance(query.near)
            columns = f"{columns}, {dist} AS distance"
        if keyed:
            for i, key in enumerate(query.order):
                if key.field is not None:  # the distance is a column already
                    columns += f", {self.d.sort_expr(key.field)} AS _k{i}"
        if count is not None:
            columns += f", ({count[0]}) AS _count"
            select_params = [*select_params, *count[1]]
        if query.after is not None:
            sql, p = self.after(query, query.after)
            where = f"{where} AND {sql}"
            params.extend(p)
        order, order_params = self.order_by(query)
        sql = f"SELECT {columns} FROM basalt_document WHERE {where} ORDER BY {order} LIMIT {int(limit)}"
        return sql, [*select_params, *params, *order_params]

    def count(self, query: Query, principals: frozenset[str] | None, split: bool = True) -> Sql:
        """The count of what `query` matches for these principals, as one statement.

        Where the dialect can (`Dialect.splits_count`), a reader's count is the public documents'
        plus the others the reader may read: each part an exact count of disjoint rows, so their
        sum is the count. On PostgreSQL the public part names its documents by the predicate of the
        partial index `doc_public` (migration 0013), so it can count a collection's public
        documents from that index alone (an index-only scan, no row visited where the visibility
        map is set) and the rest through the read-principals GIN index; tested by the ACL test on
        each row (`read_principals ? '*' OR read_principals ?| …`) it visited every document of the
        collection (bench/README.md, "Counts on PostgreSQL"). SQLite keeps each collection's count
        of all documents and of public ones as they are written (SqliteDialect.kept_count): a count
        of all is read from there, plus the other documents a reader may read. `split=False`: the
        one-filter form (the statement before the split, which bench/count_bench.py measures beside it)."""
        whole = split and self.d.splits_count(query)
        kept = whole and self.d.kept_count(self.collection.pk, public=principals is not None)
        if kept and principals is None:
            return f"SELECT {kept}", []
        if whole and principals and PUBLIC in principals:
            others = principals - {PUBLIC}
            if kept:
                public_count, public_params = kept, []
            else:
                public, public_params = self.filters(query, principals, extra=(self.d.public_only(), []), acl=False)
                if not others:  # public_only() names every public document (PostgreSQL's)
                    return f"SELECT COUNT(*) FROM basalt_document WHERE {public}", public_params
                public_count = f"(SELECT COUNT(*) FROM basalt_document WHERE {public})"
            readable = self.d.principals_not_public(others)
            rest, rest_params = self.filters(query, principals, extra=readable, acl=False)
            return (
                f"SELECT {public_count} + (SELECT COUNT(*) FROM basalt_document WHERE {rest})",
                [*public_params, *rest_params],
            )
        where, params = self.filters(query, principals)
        return f"SELECT COUNT(*) FROM basalt_document WHERE {where}", params

    def by_ids(self, ids: list[str], principals: frozenset[str] | None, max_bytes: int | None = None) -> Sql:
        where, params = self.filters(None, principals)
        sql, p = self.d.ids_in(ids)
        statement = f"SELECT {self.d.document_columns} FROM basalt_document WHERE {where} AND {sql}", [*params, *p]
        if max_bytes is None or self.d.streams_rows or len(ids) <= UNCUT_ROWS:
            return statement
        return self._cut_at_bytes(*statement, "id", [], max_bytes)

"""Turn a client's raw query (where, order, limit, cursor, fields, expand, count) into a Query.

Everything a client sends is checked here against the collection's schema and the project's
limits; anything unknown or malformed raises InvalidQuery with a message naming the culprit.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from basalt.core.errors import InvalidQuery
from basalt.documents.fields.base import FieldError, registry
from basalt.documents.query import re2match, values
from basalt.documents.query.cursors import decode_cursor, query_binding
from basalt.documents.query.nodes import (
    SYSTEM_FIELDS,
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
from basalt.documents.query.regex import UnsafeRegex, check_regex

DEFAULT_LIMITS = {
    "max_page_size": 1000,
    "max_in_values": 1000,
    "max_where_depth": 10,
    "max_regex_length": 256,
    "max_expand_depth": 3,
}
DEFAULT_PAGE = 100
MAX_CONDITIONS = 500
MAX_ORDER_KEYS = 8
MAX_POLYGON_VERTICES = 100  # each vertex is a term of the SQL test: bounded work per query
RAW_KEYS = frozenset({"where", "order", "limit", "cursor", "fields", "expand", "count"})
_SEGMENT = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]{0,62}\Z")
_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,62}\Z")
_DOC_ID = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
_WORD = re.compile(r"\w+")

COMPARISONS = frozenset({"$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin"})
RANGES = frozenset({"$lt", "$lte", "$gt", "$gte"})
SCALAR_OPS = COMPARISONS | {"$exists", "$regex", "$search"}
# What the engine can compile per kind of field; the field type's registry entry narrows it.
KIND_OPS = {
    "scalar": SCALAR_OPS,
    "array": frozenset({"$contains", "$all", "$contained_by", "$exists", "$eq", "$ne", "$in", "$nin"}),
    "object": frozenset({"$exists"}),
    "geopoint": frozenset({"$near", "$within_box", "$within_polygon", "$exists"}),
    "relation": frozenset(),
}
UNTYPED_OPS = COMPARISONS | {"$exists", "$regex", "$contains", "$all"}
SYSTEM_OPS = COMPARISONS | {"$exists"}
ALL_FIELD_OPS = frozenset().union(*KIND_OPS.values(), UNTYPED_OPS, {"$options", "$max_km"})
UNSORTABLE_KINDS = frozenset({"array", "object", "geopoint", "relation"})


def kind_of(type_name: str | None) -> str:
    if type_name in ("array", "object", "geopoint", "relation"):
        return type_name
    return "scalar"


def search_tokens(text: str) -> tuple[str, ...]:
    """Word tokens of a text, lower-cased: the unit `$search` matches on (see README)."""
    return tuple(_WORD.findall(text.lower()))


def parse_query(
    collection: Any, raw: dict[str, Any], limits: dict[str, Any], hidden: frozenset[str] = frozenset()
) -> Query:
    """Validate a raw query against `collection`'s schema and the project's `limits`.

    `hidden` are the fields the caller may not read: everywhere (where, order, fields, expand) they
    are refused exactly like fields that do not exist, before anything about their type is checked,
    so no message, status or timing tells a protected field from an unknown one."""
    if not isinstance(raw, dict):
        raise InvalidQuery("The query must be a JSON object.")
    unknown = sorted(set(raw) - RAW_KEYS)
    if unknown:
        raise InvalidQuery(f"Unknown query parameter {unknown[0]!r}.", details={"parameter": unknown[0]})
    lim = {**DEFAULT_LIMITS, **(limits or {})}
    parser = _WhereParser(collection, lim, hidden)
    where = parser.parse_root(raw.get("where"))
    order = _parse_order(collection, raw.get("order"), parser.near, hidden)
    query = Query(
        where=where,
        order=order,
        limit=_parse_limit(raw.get("limit"), lim),
        cursor=None,
        fields=_parse_fields(collection, raw.get("fields"), hidden),
        expand=_parse_expand(collection, raw.get("expand"), lim, hidden),
        count=_parse_bool(raw.get("count"), "count"),
        near=parser.near,
    )
    query.binding = query_binding(collection, query)
    cursor = raw.get("cursor")
    if cursor not in (None, ""):
        query.cursor = values.text(cursor, "cursor", 4096)
        query.after = decode_cursor(cursor, collection, query)
    return query


def unknown_field(name: str, purpose: str, path: str | None = None) -> InvalidQuery:
    """The one answer for a field that does not exist or that the caller may not read."""
    return InvalidQuery(f"Unknown field {name[:64]!r} in {purpose}.", details={"field": (path or name)[:255]})


def not_a_pointer(name: str) -> InvalidQuery:
    """The one answer for an `expand` path that is no pointer the caller may read."""
    return InvalidQuery(f"`expand` names a pointer field; {name[:64]!r} is not one.", details={"field": name[:64]})


def resolve_field(collection: Any, path: Any, purpose: str = "where", hidden: frozenset[str] = frozenset()) -> FieldRef:
    """Map a client field path to a FieldRef, refusing unknown (or hidden) fields and unsafe segments."""
    if not isinstance(path, str) or not path or len(path) > 255:
        raise InvalidQuery(f"Invalid field name in {purpose}.", details={"field": str(path)[:80]})
    segments = path.split(".")
    for segment in segments:
        if not _SEGMENT.match(segment) or segment.startswith("__"):
            raise InvalidQuery(f"Invalid field name {path!r} in {purpose}.", details={"field": path})
    head = segments[0]
    if head in SYSTEM_FIELDS:
        if len(segments) > 1:
            raise InvalidQuery(f"{head!r} has no sub-fields.", details={"field": path})
        return FieldRef((head,), "date" if head != "id" else "string", system=True)
    definition = (collection.fields or {}).get(head)
    if not isinstance(definition, dict) or head in hidden:
        raise unknown_field(head, purpose, path)
    type_name = definition.get("type")
    if len(segments) > 1:
        if type_name != "object":
            raise InvalidQuery(f"Only object fields have sub-fields: {path!r}.", details={"field": path})
        return FieldRef(tuple(segments), None)
    items = definition.get("items")
    if isinstance(items, dict):
        items = items.get("type")
    return FieldRef((head,), type_name, items=items if isinstance(items, str) else None)


class _WhereParser:
    def __init__(self, collection: Any, limits: dict[str, Any], hidden: frozenset[str] = frozenset()):
        self.collection = collection
        self.hidden = hidden
        self.limits = limits
        self.conditions = 0
        self.near: Near | None = None

    def parse_root(self, where: Any) -> Node | None:
        if where in (None, ""):
            return None
        if isinstance(where, str | bytes):
            try:
                where = orjson.loads(where)
            except orjson.JSONDecodeError:
                raise InvalidQuery("`where` is not valid JSON.")
        node = self.parse(where, 1, top=True)
        return node

    def parse(self, where: Any, depth: int, top: bool = False) -> Node:
        if depth > int(self.limits["max_where_depth"]):
            raise InvalidQuery(f"`where` is nested deeper than {self.limits['max_where_depth']} levels.")
        if not isinstance(where, dict):
            raise InvalidQuery("Each `where` clause must be a JSON object.")
        nodes: list[Node] = []
        for key, value in where.items():
            self._tick()
            if key in ("$or", "$and", "$nor"):
                if not isinstance(value, list) or not value:
                    raise InvalidQuery(f"{key} takes a non-empty list of clauses.", details={"operator": key})
                children = tuple(self.parse(item, depth + 1) for item in value)
                nodes.append({"$or": Or, "$and": And, "$nor": Nor}[key](children))
            elif key == "$related_to":
                nodes.append(self._related_to(value))
            elif not isinstance(key, str) or key.startswith("$"):
                raise InvalidQuery(f"Unknown operator {str(key)[:40]!r}.", details={"operator": str(key)[:40]})
            else:
                ref = resolve_field(self.collection, key, "where", self.hidden)
                nodes.extend(self._field(ref, value, top))
        if len(nodes) == 1:
            return nodes[0]
        return And(tuple(nodes))

    def _tick(self) -> None:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise InvalidQuery(f"`where` has more than {MAX_CONDITIONS} conditions.")

    def _related_to(self, value: Any) -> RelatedTo:
        if not isinstance(value, dict) or set(value) != {"collection", "id", "field"}:
            raise InvalidQuery("$related_to takes {collection, id, field}.", details={"operator": "$related_to"})
        collection, doc_id, field = value["collection"], value["id"], value["field"]
        if not isinstance(collection, str) or not _NAME.match(collection):
            raise InvalidQuery("$related_to: invalid collection name.", details={"operator": "$related_to"})
        if not isinstance(field, str) or not _NAME.match(field):
            raise InvalidQuery("$related_to: invalid field name.", details={"operator": "$related_to"})
        if not isinstance(doc_id, str) or not _DOC_ID.match(doc_id):
            raise InvalidQuery("$related_to: invalid document id.", details={"operator": "$related_to"})
        return RelatedTo(collection, doc_id, field)

    def _allowed(self, ref: FieldRef) -> frozenset[str]:
        if ref.system:
            return SYSTEM_OPS
        if ref.type is None:
            return UNTYPED_OPS
        field_type = registry.get(ref.type)
        if field_type is None:
            raise InvalidQuery(f"Field {ref.name!r} cannot be queried.", details={"field": ref.name})
        return (frozenset(field_type.operators) | {"$exists"}) & KIND_OPS[kind_of(ref.type)]

    def _field(self, ref: FieldRef, value: Any, top: bool) -> list[Node]:
        allowed = self._allowed(ref)
        is_ops = isinstance(value, dict) and any(isinstance(k, str) and k.startswith("$") for k in value)
        if not is_ops:
            return [self._compare(ref, "$eq", value, allowed)]
        bad = [k for k in value if not isinstance(k, str) or k not in ALL_FIELD_OPS]
        if bad:
            raise InvalidQuery(
                f"Unknown operator {str(bad[0])[:40]!r} on {ref.name!r}.",
                details={"field": ref.name, "operator": str(bad[0])[:40]},
            )
        if "$options" in value and "$regex" not in value:
            raise InvalidQuery("$options goes with $regex.", details={"field": ref.name})
        if "$max_km" in value and "$near" not in value:
            raise InvalidQuery("$max_km goes with $near.", details={"field": ref.name})
        nodes: list[Node] = []
        for op, operand in value.items():
            if op in ("$options", "$max_km"):
                continue
            self._tick()
            if op not in allowed:
                raise InvalidQuery(
                    f"Operator {op} is not supported on field {ref.name!r}.",
                    details={"field": ref.name, "operator": op},
                )
            if op in COMPARISONS:
                nodes.append(self._compare(ref, op, operand, allowed))
            elif op == "$exists":
                if not isinstance(operand, bool):
                    raise InvalidQuery("$exists takes true or false.", details={"field": ref.name})
                nodes.append(Exists(ref, operand))
            elif op == "$regex":
                nodes.append(self._regex(ref, operand, value.get("$options", "")))
            elif op == "$search":
                text = values.text(operand, ref.name, 1024)
                tokens = search_tokens(text)
                if not tokens:
                    raise InvalidQuery("$search needs at least one word.", details={"field": ref.name})
                nodes.append(Search(ref, text, tokens))
            elif op in ("$contains", "$all"):
                nodes.append(self._contains(ref, op, operand))
            elif op == "$near":
                nodes.append(self._near(ref, operand, value.get("$max_km"), top))
            elif op == "$within_box":
                nodes.append(self._box(ref, operand))
            elif op == "$within_polygon":
                nodes.append(self._polygon(ref, operand))
            elif op == "$contained_by":
                nodes.append(ContainedBy(ref, self._elements(ref, op, operand)))
        return nodes

    def _coerce(self, ref: FieldRef, operand: Any, type_name: str | None = None) -> Any:
        where = ref.name
        type_name = type_name if type_name is not None else ref.type
        if ref.system:
            if operand is None:
                return None
            if ref.path[0] == "id":
                return values.text(operand, where, 64)
            return values.timestamp(operand, where)
        operand = values.scalar(operand, where) if not isinstance(operand, dict | list) else operand
        if operand is None or type_name is None:
            if isinstance(operand, dict | list):
                raise InvalidQuery(
                    f"{where}: compare sub-fields with dotted paths, not objects or lists.", details={"field": where}
                )
            return operand
        field_type = registry.get(type_name)
        if field_type is None:
            raise InvalidQuery(f"Field {where!r} cannot be queried.", details={"field": where})
        try:
            coerced = field_type.coerce_operand(operand, self._options(ref))
        except FieldError as exc:
            raise InvalidQuery(f"{where}: {exc}", details={"field": where})
        except (TypeError, ValueError, KeyError, AttributeError):
            raise InvalidQuery(f"{where}: the value does not fit the field's type.", details={"field": where})
        if isinstance(coerced, dict) and set(coerced) == {"id"}:
            coerced = coerced["id"]  # a pointer given as a reference object compares by id
        if isinstance(coerced, dict | list):
            raise InvalidQuery(f"{where}: cannot compare whole objects or lists.", details={"field": where})
        return values.scalar(coerced, where)

    def _options(self, ref: FieldRef) -> dict[str, Any]:
        definition = (self.collection.fields or {}).get(ref.path[0])
        return dict(definition) if isinstance(definition, dict) else {}

    def _compare(self, ref: FieldRef, op: str, operand: Any, allowed: frozenset[str]) -> Node:
        if op in ("$eq", "$ne") and operand is None and kind_of(ref.type) != "relation":
            return Exists(ref, op == "$ne")  # null and missing are one value
        if op not in allowed:
            raise InvalidQuery(
                f"Operator {op} is not supported on field {ref.name!r}.", details={"field": ref.name, "operator": op}
            )
        if kind_of(ref.type) == "array":
            return self._array_compare(ref, op, operand)
        if op in ("$in", "$nin"):
            if not isinstance(operand, list):
                raise InvalidQuery(f"{op} takes a list.", details={"field": ref.name, "operator": op})
            if len(operand) > int(self.limits["max_in_values"]):
                raise InvalidQuery(
                    f"{op} takes at most {self.limits['max_in_values']} values.",
                    details={"field": ref.name, "operator": op},
                )
            return Compare(ref, op, tuple(self._coerce(ref, item) for item in operand))
        coerced = self._coerce(ref, operand)
        if op in RANGES:
            if coerced is None or isinstance(coerced, bool):
                raise InvalidQuery(f"{op} needs a string, number or date.", details={"field": ref.name, "operator": op})
        return Compare(ref, op, coerced)

    def _regex(self, ref: FieldRef, pattern: Any, options: Any) -> Regex:
        max_length = int(self.limits["max_regex_length"])
        if not isinstance(pattern, str):
            raise InvalidQuery("$regex takes a string.", details={"field": ref.name})
        if len(pattern) > max_length:
            raise InvalidQuery(f"$regex is longer than {max_length} characters.", details={"field": ref.name})
        if options not in ("", "i"):
            raise InvalidQuery('$options supports only "i".', details={"field": ref.name})
        try:
            check_regex(pattern)
            re2match.compiled(re2match.translate(pattern, options == "i"))
        except (UnsafeRegex, re2match.RegexTooComplex) as exc:
            raise InvalidQuery(f"$regex: {exc}", details={"field": ref.name})
        return Regex(ref, pattern, options == "i")

    def _contains(self, ref: FieldRef, op: str, operand: Any) -> Contains:
        if op == "$all" and (not isinstance(operand, list) or not operand):
            raise InvalidQuery("$all takes a non-empty list.", details={"field": ref.name, "operator": op})
        return Contains(ref, self._elements(ref, op, operand if op == "$all" else [operand]))

    def _elements(self, ref: FieldRef, op: str, items: Any) -> tuple[Any, ...]:
        """Coerce array-element operands with the array type (its `items` type when declared)."""
        if not isinstance(items, list):
            raise InvalidQuery(f"{op} takes a list.", details={"field": ref.name, "operator": op})
        if len(items) > int(self.limits["max_in_values"]):
            raise InvalidQuery(
                f"{op} takes at most {self.limits['max_in_values']} values.",
                details={"field": ref.name, "operator": op},
            )
        array_type = registry.get("array") if ref.type == "array" else None
        out = []
        for item in items:
            if isinstance(item, dict | list):
                raise InvalidQuery(f"{ref.name}: array elements are compared as scalars.", details={"field": ref.name})
            value = values.scalar(item, ref.name)
            if array_type is not None and value is not None:
                try:
                    value = array_type.coerce_operand(value, self._options(ref))
                except FieldError as exc:
                    raise InvalidQuery(f"{ref.name}: {exc}", details={"field": ref.name})
                if isinstance(value, dict) and set(value) == {"id"}:
                    value = value["id"]
                value = values.scalar(value, ref.name)
            out.append(value)
        return tuple(out)

    def _array_compare(self, ref: FieldRef, op: str, operand: Any) -> Node:
        """Array semantics: a list operand compares the whole array, an element tests membership."""
        if op in ("$in", "$nin"):
            node: Node = AnyOf(ref, self._elements(ref, op, operand))
            return node if op == "$in" else Nor((node,))
        if isinstance(operand, list):
            node = ArrayEquals(ref, self._elements(ref, op, operand))
        else:
            node = Contains(ref, self._elements(ref, op, [operand]))
        return node if op == "$eq" else Nor((node,))

    def _near(self, ref: FieldRef, point: Any, max_km: Any, top: bool) -> Near:
        if not top:
            raise InvalidQuery("$near is allowed only at the top level of `where`.", details={"field": ref.name})
        if self.near is not None:
            raise InvalidQuery("Only one $near per query.", details={"field": ref.name})
        lat, lng = _point(point, ref.name)
        if max_km is not None:
            max_km = values.number(max_km, ref.name)
            if max_km < 0:
                raise InvalidQuery("$max_km must be positive.", details={"field": ref.name})
        self.near = Near(ref, lat, lng, max_km)
        return self.near

    def _box(self, ref: FieldRef, box: Any) -> WithinBox:
        if not isinstance(box, list) or len(box) != 2:
            raise InvalidQuery(
                "$within_box takes [[lat, lng], [lat, lng]] (south-west, north-east).", details={"field": ref.name}
            )
        (south, west), (north, east) = (_point(corner, ref.name) for corner in box)
        if south > north:
            raise InvalidQuery("$within_box: the first corner must be the south-west one.", details={"field": ref.name})
        return WithinBox(ref, south, west, north, east)

    def _polygon(self, ref: FieldRef, vertices: Any) -> WithinPolygon:
        if not isinstance(vertices, list) or not 3 <= len(vertices) <= MAX_POLYGON_VERTICES:
            raise InvalidQuery(
                f"$within_polygon takes 3 to {MAX_POLYGON_VERTICES} points [[lat, lng], ...].",
                details={"field": ref.name},
            )
        return WithinPolygon(ref, tuple(_point(vertex, ref.name) for vertex in vertices))


def _point(value: Any, where: str) -> tuple[float, float]:
    if isinstance(value, dict) and set(value) == {"lat", "lng"}:
        lat, lng = value["lat"], value["lng"]
    elif isinstance(value, list) and len(value) == 2:
        lat, lng = value
    else:
        raise InvalidQuery(f"{where}: a point is {{lat, lng}} or [lat, lng].", details={"field": where})
    lat, lng = float(values.number(lat, where)), float(values.number(lng, where))
    if not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidQuery(f"{where}: latitude must be within ±90 and longitude within ±180.", details={"field": where})
    return lat, lng


def _parse_order(collection: Any, raw: Any, near: Near | None, hidden: frozenset[str]) -> list[OrderKey]:
    if raw in (None, "", []):
        if near is not None:
            return [OrderKey(None, False), OrderKey(FieldRef(("id",), "string", system=True), False)]
        return [
            OrderKey(FieldRef(("created_at",), "date", system=True), False),
            OrderKey(FieldRef(("id",), "string", system=True), False),
        ]
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or len(items) > MAX_ORDER_KEYS:
        raise InvalidQuery(f"`order` is a comma list of at most {MAX_ORDER_KEYS} fields.")
    keys: list[OrderKey] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise InvalidQuery("`order` items must be field names.")
        item = item.strip()
        descending = item.startswith("-")
        ref = resolve_field(collection, item[1:] if descending else item, "order", hidden)
        if ref.name in seen:
            raise InvalidQuery(f"{ref.name!r} appears twice in `order`.", details={"field": ref.name})
        seen.add(ref.name)
        if not ref.system and ref.type is not None:
            field_type = registry.get(ref.type)
            if kind_of(ref.type) in UNSORTABLE_KINDS or field_type is None or not field_type.sortable:
                raise InvalidQuery(f"Cannot order by {ref.name!r}.", details={"field": ref.name})
        keys.append(OrderKey(ref, descending))
        if ref.system and ref.path[0] == "id":
            return keys  # id is unique: later keys could never matter
    # The tie-break runs the way the last key does, so an index on (f, id) serves `-f` backwards.
    keys.append(OrderKey(FieldRef(("id",), "string", system=True), keys[-1].descending))
    return keys


def _parse_limit(raw: Any, limits: dict[str, Any]) -> int:
    max_page = int(limits["max_page_size"])
    if raw in (None, ""):
        return min(DEFAULT_PAGE, max_page)
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= max_page:
        raise InvalidQuery(f"`limit` must be an integer from 1 to {max_page}.", details={"parameter": "limit"})
    return raw


def _parse_bool(raw: Any, name: str) -> bool:
    if raw in (None, "", False, "false", "0"):
        return False
    if raw in (True, "true", "1"):
        return True
    raise InvalidQuery(f"`{name}` must be true or false.", details={"parameter": name})


def _name_list(raw: Any, name: str, cap: int) -> list[str]:
    if raw in (None, "", []):
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or len(items) > cap or not all(isinstance(i, str) for i in items):
        raise InvalidQuery(f"`{name}` is a comma list of at most {cap} names.", details={"parameter": name})
    return [item.strip() for item in items]


def _parse_fields(collection: Any, raw: Any, hidden: frozenset[str]) -> list[str] | None:
    names = _name_list(raw, "fields", 100)
    if not names:
        return None
    known = (set(collection.fields or {}) - hidden) | set(SYSTEM_FIELDS) | {"acl"}
    for name in names:
        if name not in known:
            raise unknown_field(name, "fields")
    return list(dict.fromkeys(names))


def _parse_expand(collection: Any, raw: Any, limits: dict[str, Any], hidden: frozenset[str]) -> list[str]:
    paths = _name_list(raw, "expand", 20)
    max_depth = int(limits["max_expand_depth"])
    for path in paths:
        segments = path.split(".")
        if len(segments) > max_depth:
            raise InvalidQuery(f"`expand` goes at most {max_depth} levels deep.", details={"field": path[:64]})
        if not all(_NAME.match(s) for s in segments):
            raise InvalidQuery(f"Invalid `expand` path {path[:64]!r}.", details={"field": path[:64]})
        definition = (collection.fields or {}).get(segments[0])
        if not isinstance(definition, dict) or definition.get("type") != "pointer" or segments[0] in hidden:
            raise not_a_pointer(segments[0])
    return list(dict.fromkeys(paths))

"""Parse queries → Basalt queries: `where` operators, sub-queries, keys/include/order/skip/count."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson

from basalt.core.caller import Caller
from basalt.documents import finding
from basalt.documents.cache import Schema, project_schemas
from basalt.parse import codec, includes, names
from basalt.parse.errors import INVALID_JSON, INVALID_QUERY, ParseError

EARTH_KM = 6371.0
MILE_KM = 1.609344
# Sub-queries ($inQuery, $select, …) are run first through the documents service, as the caller;
# their results become an $in list, bounded like every $in.
MAX_SUBQUERY_RESULTS = 1000
MAX_SKIP = 10000
PAGE = 1000
# Parse operators with a Basalt operator of the same meaning (values converted).
SAME = {
    "$lt": "$lt",
    "$lte": "$lte",
    "$gt": "$gt",
    "$gte": "$gte",
    "$ne": "$ne",
    "$eq": "$eq",
    "$in": "$in",
    "$nin": "$nin",
    "$all": "$all",
    "$exists": "$exists",
    "$regex": "$regex",
}


_QUOTED = re.compile(r"\\Q(.*?)(?:\\E|\Z)", re.S)
_SPECIAL = frozenset(".^$*+?()[]{}|\\/-")


def unquote_regex(pattern: Any) -> Any:
    """Parse SDKs quote literals as `\\Q…\\E` (startsWith, endsWith, contains); Basalt's regex dialect
    has no such escape, so the quoted text is escaped character by character instead."""
    if not isinstance(pattern, str) or "\\Q" not in pattern:
        return pattern
    return _QUOTED.sub(lambda m: "".join("\\" + ch if ch in _SPECIAL else ch for ch in m.group(1)), pattern)


def _json(value: Any, what: str) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ParseError(INVALID_JSON, f"Invalid JSON in {what}.") from None
    return value


def has_operators(value: Any) -> bool:
    """Whether a `where` value is operators (`{"$gt": 1}`) rather than a value to equal."""
    return isinstance(value, dict) and any(isinstance(k, str) and k.startswith("$") for k in value)


def _merge_set(ops: dict[str, Any], op: str, values: list[Any]) -> None:
    """Add an `$in` / `$nin` list to a key's operators: `$in`s intersect (every one must hold,
    as `$in` and `$inQuery` on one key do in Parse), `$nin`s add up."""
    if op not in ops:
        ops[op] = values
    elif op == "$in":
        ops[op] = [v for v in ops[op] if v in values]
    else:
        ops[op] = ops[op] + [v for v in values if v not in ops[op]]


class Translator:
    """Translates one Parse `where` against the schema of its class, as one caller."""

    def __init__(self, caller: Caller, schema: Schema, depth: int = 0):
        self.caller = caller
        self.schema = schema
        self.depth = depth

    def where(self, where: Any) -> dict[str, Any]:
        if not isinstance(where, dict):
            raise ParseError(INVALID_QUERY, "where must be an object.")
        out: list[dict[str, Any]] = []
        for key, value in where.items():
            if key in ("$or", "$and", "$nor"):
                if not isinstance(value, list) or not value:
                    raise ParseError(INVALID_QUERY, f"Bad {key} format - use an array value.")
                out.append({key: [self.where(child) for child in value]})
            elif key == "$relatedTo":
                out.append(self.related_to(value))
            elif isinstance(key, str) and key.startswith("$"):
                raise ParseError(INVALID_QUERY, f"Invalid key {key[:40]} for find")
            else:
                out.append(self.constraint(key, value))
        if len(out) == 1:
            return out[0]
        return {"$and": out} if out else {}

    def field(self, key: str) -> tuple[str, str | None, dict[str, Any]]:
        head, dot, rest = key.partition(".")
        native = names.resolve(head, self.schema.fields)
        spec = self.schema.fields.get(native)
        type_name = spec[0].name if spec else None
        return native + dot + rest, (type_name if not dot else None), (spec[1] if spec else {})

    def related_to(self, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or not isinstance(value.get("object"), dict):
            raise ParseError(INVALID_QUERY, "$relatedTo needs object and key.")
        source = value["object"]
        collection = names.encode_class(source.get("className"))
        schema = project_schemas(self.caller.project).get(collection)
        existing = schema.fields if schema else {}
        return {
            "$related_to": {
                "collection": collection,
                "id": source.get("objectId"),
                "field": names.resolve(value.get("key"), existing),
            }
        }

    def constraint(self, key: str, value: Any) -> dict[str, Any]:
        path, type_name, options = self.field(key)
        if not has_operators(value):
            if type_name == "array" and not isinstance(value, list):
                return {path: {"$contains": codec.to_native(value)}}
            return {path: codec.to_native(value)}
        return {path: self.operators(value)}

    def operators(self, value: dict[str, Any], convert=None, allowed: frozenset[str] | None = None) -> dict[str, Any]:
        """One key's Parse operators as Basalt's. `convert(op, operand)` turns the operand of a
        comparison (`SAME`) into its native form (`self.operand` by default); `allowed` bounds the
        operators (a face with fewer, as installations' app-defined fields). Several operators
        that each give a set on one key all hold: `$in` lists intersect, `$nin` lists add up."""
        convert = convert or self.operand
        ops: dict[str, Any] = {}
        for op, operand in value.items():
            if allowed is not None and op not in allowed:
                raise ParseError(INVALID_QUERY, f"Unsupported operator on this field: {str(op)[:40]}.")
            if op == "$regex":
                ops["$regex"] = unquote_regex(operand)
            elif op in ("$in", "$nin"):
                _merge_set(ops, op, convert(op, operand))
            elif op in SAME:
                ops[SAME[op]] = convert(op, operand)
            elif op == "$options":
                if not isinstance(operand, str) or set(operand) - set("imxs"):
                    raise ParseError(INVALID_QUERY, "Bad $options value for query: " + str(operand)[:20])
                # Basalt takes `i`; Parse's m/x/s have no effect on single-line values we store.
                if "i" in operand:
                    ops["$options"] = "i"
            elif op == "$text":
                ops["$search"] = self.text(operand)
            elif op in ("$nearSphere", "$near"):
                ops["$near"] = self.point(operand)
            elif op in ("$maxDistance", "$maxDistanceInRadians"):
                ops["$max_km"] = self.number(operand) * EARTH_KM
            elif op == "$maxDistanceInKilometers":
                ops["$max_km"] = self.number(operand)
            elif op == "$maxDistanceInMiles":
                ops["$max_km"] = self.number(operand) * MILE_KM
            elif op == "$within":
                box = operand.get("$box") if isinstance(operand, dict) else None
                if not isinstance(box, list) or len(box) != 2:
                    raise ParseError(INVALID_QUERY, "malformatted $within arg")
                corners = [self.point(corner) for corner in box]
                ops["$within_box"] = [[c["lat"], c["lng"]] for c in corners]
            elif op == "$geoWithin":
                ops.update(self.geo_within(operand))
            elif op == "$geoIntersects":
                # Parse's Polygon values are stored as opaque JSON here (codec.OPAQUE_TYPES), with
                # no geometry the query engine could test a point against.
                raise ParseError(INVALID_QUERY, "$geoIntersects is not supported: Polygon fields are not indexed.")
            elif op == "$containedBy":
                if not isinstance(operand, list):
                    raise ParseError(INVALID_JSON, "bad $containedBy: should be an array")
                ops["$contained_by"] = [codec.to_native(v) for v in operand]
            elif op in ("$inQuery", "$notInQuery"):
                _merge_set(ops, "$in" if op == "$inQuery" else "$nin", self.sub_ids(operand))
            elif op in ("$select", "$dontSelect"):
                _merge_set(ops, "$in" if op == "$select" else "$nin", self.sub_values(operand))
            else:
                raise ParseError(INVALID_QUERY, f"Unsupported query operator {str(op)[:40]}.")
        if "$in" in ops and "$nin" in ops:
            # An allowed set and an excluded one on one key: one $in (fewer conditions to compile).
            excluded = ops.pop("$nin")
            ops["$in"] = [v for v in ops["$in"] if v not in excluded]
        if ops.get("$near") is not None and "$max_km" not in ops:
            ops["$max_km"] = math.pi * EARTH_KM  # Parse's $nearSphere without a bound: the whole sphere
        return ops

    def geo_within(self, operand: Any) -> dict[str, Any]:
        """`$geoWithin` with one of `$box`, `$polygon` or `$centerSphere`, as native operators, with
        Parse Server's messages (code 107). Coordinate pairs are [longitude, latitude] there, in a
        `Polygon` value as in a bare array (its MongoDB and PostgreSQL adapters agree), so here too."""
        if not isinstance(operand, dict) or len(operand) != 1:
            raise ParseError(INVALID_JSON, "bad $geoWithin value")
        ((shape, value),) = operand.items()
        if shape == "$box":
            if not isinstance(value, list) or len(value) != 2:
                raise ParseError(INVALID_JSON, "bad $geoWithin value; $box must be an array of 2 GeoPoints")
            corners = [self.point(corner) for corner in value]
            return {"$within_box": [[c["lat"], c["lng"]] for c in corners]}
        if shape == "$polygon":
            if isinstance(value, dict) and value.get("__type") == "Polygon":
                value = value.get("coordinates")
                if not isinstance(value, list) or len(value) < 3:
                    raise ParseError(
                        INVALID_JSON,
                        "bad $geoWithin value; Polygon.coordinates should contain at least 3 lon/lat pairs",
                    )
            if not isinstance(value, list):
                raise ParseError(
                    INVALID_JSON, "bad $geoWithin value; $polygon should be Polygon object or Array of Parse.GeoPoint's"
                )
            if len(value) < 3:
                raise ParseError(INVALID_JSON, "bad $geoWithin value; $polygon should contain at least 3 GeoPoints")
            return {"$within_polygon": [self.vertex(v) for v in value]}
        if shape == "$centerSphere":
            if not isinstance(value, list) or len(value) != 2:
                raise ParseError(
                    INVALID_JSON,
                    "bad $geoWithin value; $centerSphere should be an array of Parse.GeoPoint and distance",
                )
            center, radians = value
            if isinstance(center, list) and len(center) == 2:
                center = {"__type": "GeoPoint", "latitude": center[1], "longitude": center[0]}
            if not isinstance(center, dict) or center.get("__type") != "GeoPoint":
                raise ParseError(INVALID_JSON, "bad $geoWithin value; $centerSphere geo point invalid")
            if isinstance(radians, bool) or not isinstance(radians, int | float) or not 0 <= radians < math.inf:
                raise ParseError(INVALID_JSON, "bad $geoWithin value; $centerSphere distance invalid")
            return {"$near": self.point(center), "$max_km": radians * EARTH_KM}
        raise ParseError(INVALID_JSON, "bad $geoWithin value")

    def vertex(self, value: Any) -> list[float]:
        if isinstance(value, list) and len(value) == 2:
            value = {"__type": "GeoPoint", "latitude": value[1], "longitude": value[0]}  # [lng, lat]
        if not isinstance(value, dict) or value.get("__type") != "GeoPoint":
            raise ParseError(INVALID_JSON, "bad $geoWithin value")
        point = self.point(value)
        return [point["lat"], point["lng"]]

    def operand(self, op: str, operand: Any) -> Any:
        if op in ("$in", "$nin", "$all"):
            if not isinstance(operand, list):
                raise ParseError(INVALID_QUERY, f"bad {op} value")
            return [codec.to_native(v) for v in operand]
        return codec.to_native(operand)

    @staticmethod
    def number(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParseError(INVALID_QUERY, "Distance must be a number.")
        return float(value)

    @staticmethod
    def point(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or value.get("__type") != "GeoPoint":
            raise ParseError(INVALID_QUERY, "Bad GeoPoint.")
        return codec.to_native(value)

    @staticmethod
    def text(value: Any) -> str:
        search = value.get("$search") if isinstance(value, dict) else None
        term = search.get("$term") if isinstance(search, dict) else None
        if not isinstance(term, str):
            raise ParseError(INVALID_QUERY, "bad $text: $term, should be string")
        return term

    def _sub_find(self, query: Any, fields: list[str] | None) -> tuple[Schema, list[dict[str, Any]]]:
        if self.depth >= 3:
            raise ParseError(INVALID_QUERY, "Sub-queries nest at most 3 deep.")
        if not isinstance(query, dict):
            raise ParseError(INVALID_QUERY, "improper usage of $inQuery")
        collection = names.encode_class(query.get("className"))
        schema = project_schemas(self.caller.project).get(collection)
        if schema is None:
            return None, []  # type: ignore[return-value]
        raw: dict[str, Any] = {"limit": MAX_SUBQUERY_RESULTS}
        where = query.get("where")
        if where:
            raw["where"] = Translator(self.caller, schema, self.depth + 1).where(_json(where, "where"))
        if fields is not None:
            raw["fields"] = fields
        result = finding.find_documents(self.caller, collection, raw)
        return schema, result["results"]

    def sub_ids(self, query: Any) -> list[str]:
        _schema, docs = self._sub_find(query, [])
        return [doc["id"] for doc in docs]

    def sub_values(self, operand: Any) -> list[Any]:
        if not isinstance(operand, dict) or not isinstance(operand.get("key"), str):
            raise ParseError(INVALID_QUERY, "improper usage of $select")
        query = operand.get("query")
        if not isinstance(query, dict):
            raise ParseError(INVALID_QUERY, "improper usage of $select")
        collection = names.encode_class(query.get("className"))
        schema = project_schemas(self.caller.project).get(collection)
        key = names.resolve(operand["key"], schema.fields if schema else {})
        _schema, docs = self._sub_find(query, None if key in ("id", "created_at", "updated_at") else [key])
        values = []
        for doc in docs:
            value = doc.get(key)
            if isinstance(value, dict) and "id" in value:
                value = value["id"]
            if value is not None and value not in values:
                values.append(value)
        return values


def _keys(value: Any, what: str) -> list[str]:
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [part for part in value.split(",") if part]
    else:
        raise ParseError(INVALID_JSON, f"Invalid {what}.")
    if not all(isinstance(item, str) for item in items):
        raise ParseError(INVALID_JSON, f"Invalid {what}.")
    return items


def _dotted(schema: Schema, path: str) -> str:
    head, dot, rest = path.partition(".")
    return names.resolve(head, schema.fields) + dot + rest


def build(caller: Caller, schema: Schema, params: dict[str, Any]) -> tuple[dict[str, Any], int, int | None]:
    """The Basalt query for Parse params, with the skip and limit the face pages through."""
    raw: dict[str, Any] = {}
    where = _json(params.get("where"), "where") if params.get("where") not in (None, "") else None
    if where:
        translated = Translator(caller, schema).where(where)
        if translated:
            raw["where"] = translated
    order = params.get("order")
    if order:
        parts = _keys(order, "order")
        raw["order"] = ",".join(
            ("-" if p.startswith("-") else "") + _dotted(schema, p.lstrip("-")) for p in parts if p.strip("-")
        )
    keys = params.get("keys")
    if keys not in (None, ""):
        wanted = [_dotted(schema, k).split(".")[0] for k in _keys(keys, "keys")]
        raw["fields"] = [k for k in dict.fromkeys(wanted) if k not in ("id", "created_at", "updated_at", "acl")]
    excluded = params.get("excludeKeys")
    if excluded not in (None, ""):
        drop = {_dotted(schema, k).split(".")[0] for k in _keys(excluded, "excludeKeys")}
        base = raw.get("fields", list(schema.fields))
        raw["fields"] = [name for name in base if name not in drop]
    include = params.get("include")
    if include not in (None, ""):
        paths = _keys(include, "include")
        if "*" in paths:
            pointers = [n for n, (t, _o) in schema.fields.items() if t.name == "pointer"]
            paths = [p for p in paths if p != "*"] + [names.decode(p) for p in pointers]
        face_paths = [p.split(".") for p in paths if includes.needs_face(caller, schema, p.split("."))]
        if face_paths:
            raw["include_arrays"] = face_paths  # popped by `finish`: not a native parameter
        native_paths = [p for p in paths if p.split(".") not in face_paths]
        expand = list(dict.fromkeys(".".join(names.encode(s) for s in p.split(".")) for p in native_paths))
        if expand:
            raw["expand"] = expand
    count = params.get("count")
    if count in (1, True, "1", "true"):
        raw["count"] = True
    limit = _int(params.get("limit"), 100, "limit")
    skip = _int(params.get("skip"), 0, "skip")
    if skip < 0 or skip > MAX_SKIP:
        raise ParseError(INVALID_QUERY, f"skip must be between 0 and {MAX_SKIP}.")
    if limit < 0:
        limit = 100
    return raw, skip, limit


def _int(value: Any, default: int, what: str) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ParseError(INVALID_QUERY, f"{what} must be a number.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise ParseError(INVALID_QUERY, f"{what} must be a number.")


def run(caller: Caller, schema: Schema, params: dict[str, Any]) -> dict[str, Any]:
    """Find with Parse's skip/limit over Basalt's cursor pages; count when asked."""
    raw, skip, limit = build(caller, schema, params)
    array_paths = raw.pop("include_arrays", [])
    name = schema.collection.name
    out: dict[str, Any] = {}
    if raw.pop("count", False):
        counted = finding.find_documents(
            caller,
            name,
            {"where": raw["where"], "count": True, "limit": 0} if "where" in raw else {"count": True, "limit": 0},
        )
        out["count"] = counted.get("count", 0)
    if limit == 0:
        out["results"] = []
        return out
    wanted = skip + limit
    docs: list[dict[str, Any]] = []
    cursor = None
    while len(docs) < wanted:
        page = dict(raw, limit=min(PAGE, wanted - len(docs)))
        if cursor:
            page["cursor"] = cursor
        result = finding.find_documents(caller, name, page)
        docs.extend(result["results"])
        cursor = result.get("next_cursor")
        if not cursor:
            break
    project = caller.project
    out["results"] = codec.docs_to_parse(schema, docs[skip:wanted], project)
    for path in array_paths:
        includes.apply(caller, out["results"], path)
    return out

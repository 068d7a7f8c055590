"""Evaluate a parsed `where` (the find parser's AST) on one document in memory, as the SQL compiler would.

The semantics are those of `documents/query/dialects.py`: missing and null are one value,
comparisons are type-strict (the string "5" never equals 5, true is not 1), range operators only
match values of the operand's JSON type. A property test checks this evaluator against the SQL
engine on both databases. `$related_to` needs the relation table, so subscriptions refuse it.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from basalt.documents.query import re2match
from basalt.documents.query.dialects import EARTH_KM, json_kind
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
    Regex,
    RelatedTo,
    Search,
    WithinBox,
    WithinPolygon,
)

_WORD = re.compile(r"\w+")


def unsupported(node: Node | None) -> str | None:
    """The first operator of `where` that cannot be evaluated in memory, or None."""
    if node is None:
        return None
    if isinstance(node, RelatedTo):
        return "$related_to"
    if isinstance(node, And | Or | Nor):
        for child in node.children:
            found = unsupported(child)
            if found:
                return found
    return None


def matches(node: Node | None, doc: dict[str, Any]) -> bool:
    """`doc`: system fields (`id`, `created_at`, `updated_at` as RFC 3339 text) plus stored-form data."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(matches(child, doc) for child in node.children)
    if isinstance(node, Or):
        return any(matches(child, doc) for child in node.children)
    if isinstance(node, Nor):
        return not any(matches(child, doc) for child in node.children)
    if isinstance(node, Compare):
        if node.field.system:
            return _system_compare(node, doc)
        return _compare(_lookup(doc, node.field), node.op, node.value)
    if isinstance(node, Exists):
        if node.field.system:
            return node.present
        return (_lookup(doc, node.field) is not None) == node.present
    if isinstance(node, Regex):
        value = _lookup(doc, node.field)
        return isinstance(value, str) and _regex(node.pattern, node.ignore_case).search(value) is not None
    if isinstance(node, Contains):
        value = _lookup(doc, node.field)
        return isinstance(value, list) and all(any(_jeq(e, item) for e in value) for item in node.values)
    if isinstance(node, AnyOf):
        value = _lookup(doc, node.field)
        return isinstance(value, list) and any(_jeq(e, item) for e in value for item in node.values)
    if isinstance(node, ArrayEquals):
        value = _lookup(doc, node.field)
        return (
            isinstance(value, list)
            and len(value) == len(node.values)
            and all(_jeq(a, b) for a, b in zip(value, node.values, strict=True))
        )
    if isinstance(node, Search):
        value = _lookup(doc, node.field)
        return isinstance(value, str) and set(node.tokens) <= set(_WORD.findall(value.lower()))
    if isinstance(node, Near):
        return _near(node, _lookup(doc, node.field))
    if isinstance(node, WithinBox):
        return _within(node, _lookup(doc, node.field))
    if isinstance(node, WithinPolygon):
        return _in_polygon(node, _lookup(doc, node.field))
    if isinstance(node, ContainedBy):
        value = _lookup(doc, node.field)
        return isinstance(value, list) and all(any(_jeq(e, item) for item in node.values) for e in value)
    if isinstance(node, RelatedTo):
        return False
    raise TypeError(f"unknown node {type(node).__name__}")


def _lookup(doc: dict[str, Any], ref: FieldRef) -> Any:
    value: Any = doc.get("data")
    for segment in ref.path:
        value = value.get(segment) if isinstance(value, dict) else None
    return value


def _jeq(a: Any, b: Any) -> bool:
    if isinstance(a, list | dict) or isinstance(b, list | dict):
        return type(a) is type(b) and a == b
    return json_kind(a) == json_kind(b) and a == b


def _compare(value: Any, op: str, operand: Any) -> bool:
    if isinstance(value, list | dict):
        # A typed scalar comparison never matches a composite value (both dialects agree).
        return op in ("$ne", "$nin") and not (op == "$nin" and any(_jeq(value, v) for v in operand))
    if op == "$eq":
        return _jeq(value, operand)
    if op == "$ne":
        return not _jeq(value, operand)
    if op == "$in":
        return any(_jeq(value, item) for item in operand)
    if op == "$nin":
        return not any(_jeq(value, item) for item in operand)
    if value is None or json_kind(value) != json_kind(operand) or operand is None:
        return False
    if op == "$lt":
        return value < operand
    if op == "$lte":
        return value <= operand
    if op == "$gt":
        return value > operand
    if op == "$gte":
        return value >= operand
    raise ValueError(op)


def _system_value(doc: dict[str, Any], name: str) -> Any:
    raw = doc.get(name)
    if name == "id" or raw is None:
        return raw
    if isinstance(raw, datetime):
        return raw
    return parse_datetime(str(raw).replace("z", "Z"))


def _system_compare(node: Compare, doc: dict[str, Any]) -> bool:
    value = _system_value(doc, node.field.path[0])
    if node.op in ("$in", "$nin"):
        found = any(item is not None and value == item for item in node.value)
        return found if node.op == "$in" else not found
    if node.value is None:
        return node.op == "$ne"
    try:
        return {
            "$eq": value == node.value,
            "$ne": value != node.value,
            "$lt": value < node.value,
            "$lte": value <= node.value,
            "$gt": value > node.value,
            "$gte": value >= node.value,
        }[node.op]
    except TypeError:
        return False


def _regex(pattern: str, ignore_case: bool):
    # RE2, as find uses on SQLite: Python's `re` backtracks, and one subscriber's pattern runs
    # against every change of the collection in the realtime process (issue 8, item 1).
    return re2match.compiled(re2match.translate(pattern, ignore_case))


def _point(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, dict):
        return None
    lat, lng = value.get("lat"), value.get("lng")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in (lat, lng)):
        return None
    return float(lat), float(lng)


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Haversine, the formula the SQL compiler uses."""
    h = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_KM * math.asin(math.sqrt(min(1.0, h)))


def _near(node: Near, value: Any) -> bool:
    point = _point(value)
    if point is None:
        return False
    return node.max_km is None or distance_km(point[0], point[1], node.lat, node.lng) <= node.max_km


def _in_polygon(node: WithinPolygon, value: Any) -> bool:
    """The compiler's even-odd test (compiler.within_polygon), edge for edge."""
    point = _point(value)
    if point is None:
        return False
    lat, lng = point
    inside = False
    vertices = node.vertices
    for (lat1, lng1), (lat2, lng2) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        if lat1 != lat2 and min(lat1, lat2) <= lat < max(lat1, lat2):
            if lng < (lng2 - lng1) / (lat2 - lat1) * (lat - lat1) + lng1:
                inside = not inside
    return inside


def _within(node: WithinBox, value: Any) -> bool:
    point = _point(value)
    if point is None:
        return False
    lat, lng = point
    if not node.south <= lat <= node.north:
        return False
    if node.west <= node.east:
        return node.west <= lng <= node.east
    return lng >= node.west or lng <= node.east

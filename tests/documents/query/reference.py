"""A plain-Python evaluator of `where` and `order` on raw JSON: the oracle the engine is checked against."""

from __future__ import annotations

import functools
import re
from typing import Any

MISSING = object()
SYSTEM = ("id", "created_at", "updated_at")


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def jeq(a: Any, b: Any) -> bool:
    return kind(a) == kind(b) and a == b


def lookup(doc: dict, path: str) -> Any:
    if path in SYSTEM:
        return doc[path]
    value: Any = doc["data"]
    for segment in path.split("."):
        value = value.get(segment) if isinstance(value, dict) else None
    return value


def tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def matches(doc: dict, where: dict) -> bool:
    return all(_clause(doc, key, value) for key, value in where.items())


def _clause(doc: dict, key: str, value: Any) -> bool:
    if key == "$and":
        return all(matches(doc, w) for w in value)
    if key == "$or":
        return any(matches(doc, w) for w in value)
    if key == "$nor":
        return not any(matches(doc, w) for w in value)
    x = lookup(doc, key)
    if isinstance(value, dict) and any(k.startswith("$") for k in value):
        return all(_op(x, op, operand, value) for op, operand in value.items() if op != "$options")
    return _op(x, "$eq", value, {})


def _op(x: Any, op: str, v: Any, ops: dict) -> bool:
    if op == "$eq":
        if isinstance(x, list) and not isinstance(v, list) and v is not None:
            return any(jeq(e, v) for e in x)
        return jeq(x, v)
    if op == "$ne":
        return not _op(x, "$eq", v, ops)
    if op in ("$lt", "$lte", "$gt", "$gte"):
        if kind(x) != kind(v):
            return False
        return {"$lt": x < v, "$lte": x <= v, "$gt": x > v, "$gte": x >= v}[op]
    if op == "$in":
        if isinstance(x, list):
            return any(jeq(e, item) for e in x for item in v)
        return any(jeq(x, item) for item in v)
    if op == "$nin":
        return not _op(x, "$in", v, ops)
    if op == "$exists":
        return (x is not None) == v
    if op == "$regex":
        flags = re.IGNORECASE if ops.get("$options") == "i" else 0
        return isinstance(x, str) and re.search(v, x, flags) is not None
    if op == "$search":
        return isinstance(x, str) and tokens(v) <= tokens(x)
    if op == "$contains":
        return isinstance(x, list) and any(jeq(e, v) for e in x)
    if op == "$all":
        return isinstance(x, list) and all(any(jeq(e, item) for e in x) for item in v)
    if op == "$contained_by":
        return isinstance(x, list) and all(any(jeq(e, item) for item in v) for e in x)
    raise AssertionError(op)


def _cmp_values(a: Any, b: Any) -> int:
    # null (or missing) sorts lowest; within one JSON type the natural order.
    if a is None or b is None:
        return (a is not None) - (b is not None)
    return (a > b) - (a < b)


def sort(docs: list[dict], order: list[str]) -> list[dict]:
    keys = [(item.lstrip("-"), item.startswith("-")) for item in order]
    if not any(name == "id" for name, _ in keys):
        keys.append(("id", keys[-1][1] if keys else False))  # the tie-break follows the last key's direction

    def compare(d1: dict, d2: dict) -> int:
        for name, descending in keys:
            c = _cmp_values(lookup(d1, name), lookup(d2, name))
            if c:
                return -c if descending else c
        return 0

    return sorted(docs, key=functools.cmp_to_key(compare))


def find(docs: list[dict], where: dict, order: list[str], principals: frozenset[str] | None) -> list[str]:
    visible = [d for d in docs if principals is None or set(d["readers"]) & principals]
    return [d["id"] for d in sort([d for d in visible if matches(d, where)], order)]

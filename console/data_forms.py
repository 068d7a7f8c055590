"""Data-browser input: document forms per field type, and the filter builder's `where` JSON."""

from __future__ import annotations

import json
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.documents import access
from basalt.documents.cache import schema_for
from basalt.documents.writes import apply_update, prepare_create

# Filter-builder operators, as shown → the API's `where` operator ("=" is plain equality).
OPERATORS = {
    "=": None,
    "≠": "$ne",
    "<": "$lt",
    "≤": "$lte",
    ">": "$gt",
    "≥": "$gte",
    "in": "$in",
    "not in": "$nin",
    "has all": "$all",
    "contains": "$contains",
    "matches": "$regex",
    "search": "$search",
    "exists": "$exists",
    "near": "$near",
    "within box": "$within_box",
}
# Operators whose value box takes a comma-separated list.
LIST_OPERATORS = ("in", "not in", "has all")
SYSTEM_COLUMNS = ("id", "created_at", "updated_at")


def _literal(raw: str, field_type: str | None) -> Any:
    """A typed filter/form value: JSON when it parses (numbers, true, lists), else the raw text."""
    if field_type == "string" or field_type in ("pointer", "file", "date") or field_type is None:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build_where(rows: list[tuple[str, str, str]], fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rows of (field, operator, value) → the same `where` object the API takes (ANDed)."""
    where: dict[str, Any] = {}
    for field, op, raw in rows:
        if not field:
            continue
        if op not in OPERATORS:
            raise ValidationFailed(details={"where": [f"Unknown operator {op[:20]!r}."]})
        field_type = fields.get(field, {}).get("type") if field not in SYSTEM_COLUMNS else None
        if op == "exists":
            value: Any = raw.strip().lower() not in ("false", "0", "no")
        elif op in LIST_OPERATORS:
            value = [_literal(part.strip(), field_type) for part in raw.split(",") if part.strip()]
        elif op in ("near", "within box"):
            value = _numbers(field, raw, op)
        else:
            value = _literal(raw, field_type)
        operator = OPERATORS[op]
        if operator is None:
            clause: Any = value
        elif op == "matches":
            clause = {"$regex": value, "$options": "i"}
        elif op == "near":
            clause = {"$near": {"lat": value[0], "lng": value[1]}, **({"$max_km": value[2]} if len(value) > 2 else {})}
        elif op == "within box":
            clause = {"$within_box": [value[0:2], value[2:4]]}
        else:
            clause = {operator: value}
        if field in where and isinstance(where[field], dict) and isinstance(clause, dict):
            where[field] = {**where[field], **clause}
        elif field in where:
            where.setdefault("$and", []).append({field: clause})
        else:
            where[field] = clause
    return where


def _numbers(field: str, raw: str, op: str) -> list[float]:
    """`near`: "lat, lng" or "lat, lng, km"; `within box`: "lat1, lng1, lat2, lng2"."""
    wanted = (2, 3) if op == "near" else (4,)
    try:
        numbers = [float(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        numbers = []
    if len(numbers) not in wanted:
        shape = "lat, lng or lat, lng, km" if op == "near" else "lat1, lng1, lat2, lng2"
        raise ValidationFailed(details={field: [f"{op} takes numbers: {shape}."]})
    return numbers


def build_groups(rows: list[tuple[str, str, str, int]], fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Conditions in numbered groups: each group ANDs its rows, the groups are ORed."""
    groups: dict[int, list[tuple[str, str, str]]] = {}
    for field, op, raw, group in rows:
        if field:
            groups.setdefault(group, []).append((field, op, raw))
    built = [build_where(groups[number], fields) for number in sorted(groups)]
    if len(built) > 1:
        return {"$or": built}
    return built[0] if built else {}


REVERSE = {api: shown for shown, api in OPERATORS.items() if api}


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _condition(field: str, clause: Any) -> list[tuple[str, str, str]] | None:
    if not isinstance(clause, dict):
        return [(field, "=", _shown(clause))]
    if "$near" in clause:
        point = clause["$near"] if isinstance(clause["$near"], dict) else {}
        parts = [point.get("lat"), point.get("lng")] + ([clause["$max_km"]] if "$max_km" in clause else [])
        return [(field, "near", ", ".join(_shown(p) for p in parts))]
    if "$regex" in clause:
        return [(field, "matches", _shown(clause["$regex"]))]
    found = []
    for key, value in clause.items():
        op = REVERSE.get(key)
        if op is None:
            return None
        if op in LIST_OPERATORS and isinstance(value, list):
            found.append((field, op, ", ".join(_shown(v) for v in value)))
        elif op == "within box" and isinstance(value, list) and len(value) == 2:
            found.append((field, op, ", ".join(_shown(n) for corner in value for n in corner)))
        elif op == "exists":
            found.append((field, op, "true" if value else "false"))
        else:
            found.append((field, op, _shown(value)))
    return found


def _group_rows(where: Any) -> list[tuple[str, str, str]] | None:
    if not isinstance(where, dict):
        return None
    rows: list[tuple[str, str, str]] = []
    for field, clause in where.items():
        if field == "$and" and isinstance(clause, list):
            for part in clause:
                inner = _group_rows(part)
                if inner is None:
                    return None
                rows += inner
            continue
        if field.startswith("$"):
            return None
        found = _condition(field, clause)
        if found is None:
            return None
        rows += found
    return rows


def where_rows(where: Any) -> list[tuple[str, str, str, int]] | None:
    """The builder's rows for a typed-in `where`, or None when the builder cannot show it (e.g. $nor)."""
    if isinstance(where, dict) and list(where) == ["$or"] and isinstance(where["$or"], list):
        groups = [_group_rows(part) for part in where["$or"]]
    else:
        groups = [_group_rows(where)]
    if any(group is None for group in groups):
        return None
    return [(f, op, v, number) for number, group in enumerate(groups) for f, op, v in group or []]


def _date(raw: str) -> str:
    """`datetime-local` gives 2026-11-21T10:00; the API wants RFC 3339 UTC with milliseconds."""
    raw = raw.strip()
    if len(raw) == 16:
        raw += ":00"
    if len(raw) == 19:
        raw += ".000"
    return raw if raw.endswith("Z") else raw + "Z"


def form_value(field: str, definition: dict[str, Any], post: Any) -> tuple[bool, Any]:
    """(given, value) for one field from the document form; not given means leave it out/unset."""
    kind = definition["type"]
    if kind == "geopoint":
        lat, lng = (post.get(f"{field}__lat") or "").strip(), (post.get(f"{field}__lng") or "").strip()
        if not lat and not lng:
            return False, None
        try:
            return True, {"lat": float(lat), "lng": float(lng)}
        except ValueError:
            raise ValidationFailed(details={field: ["Latitude and longitude must both be numbers."]}) from None
    raw = post.get(field)
    if raw is None or (isinstance(raw, str) and raw.strip() == "" and kind != "string"):
        return False, None
    if kind == "string":
        return (raw != ""), raw
    if kind == "boolean":
        return True, raw == "true"
    if kind == "number":
        try:
            number = float(raw)
        except ValueError:
            raise ValidationFailed(details={field: ["Must be a number."]}) from None
        return True, int(number) if number.is_integer() and "." not in raw else number
    if kind == "date":
        return True, _date(raw)
    if kind in ("object", "array"):
        try:
            return True, json.loads(raw)
        except ValueError as exc:
            raise ValidationFailed(details={field: [f"Not valid JSON: {exc.msg} (line {exc.lineno})."]}) from None
    return True, raw.strip()  # pointer, file: an id


def document_body(fields: dict[str, dict[str, Any]], post: Any, existing: dict[str, Any] | None) -> dict[str, Any]:
    """The create/PATCH body for the document form; on edit an emptied field is unset."""
    body: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field, definition in fields.items():
        if definition["type"] == "relation":
            continue
        try:
            given, value = form_value(field, definition, post)
        except ValidationFailed as exc:
            errors.update(exc.details or {})
            continue
        if given:
            body[field] = value
        elif existing is not None and existing.get(field) is not None:
            body[field] = {"__op": "unset"}
    raw_acl = (post.get("acl") or "").strip()
    if raw_acl:
        try:
            body["acl"] = json.loads(raw_acl)
        except ValueError as exc:
            errors["acl"] = [f"Not valid JSON: {exc.msg}."]
    if errors:
        raise ValidationFailed(details=errors)
    return body


def checked_body(
    project: Any, collection: str, fields: dict[str, dict[str, Any]], post: Any, existing: dict[str, Any] | None
) -> dict[str, Any]:
    """The form's body, or every problem at once: inputs that do not parse (bad JSON, not a number)
    together with what the collection's validation says about the rest, so nothing takes two rounds."""
    try:
        return document_body(fields, post, existing)
    except ValidationFailed as unparsed:
        form_errors = dict(unparsed.details or {})
    parsed = {name: fields[name] for name in fields if name not in form_errors}
    rest = post.copy()
    if "acl" in form_errors:
        rest["acl"] = ""
    body = document_body(parsed, rest, existing)
    schema = schema_for(project, collection)
    checks: list[Any] = [lambda: access.validate_acl(body["acl"])] if "acl" in body else []
    if existing is None:
        checks.append(lambda: prepare_create(schema, {k: v for k, v in body.items() if k != "acl"}))
    else:
        checks.append(lambda: apply_update(schema, existing, {k: v for k, v in body.items() if k != "acl"}))
    service_errors: dict[str, Any] = {}
    for check in checks:
        try:
            check()
        except ValidationFailed as exc:
            service_errors.update(exc.details or {})
    # A field whose input did not parse keeps that message (its "required" echo is noise).
    raise ValidationFailed(details={**service_errors, **form_errors})


def input_value(definition: dict[str, Any], value: Any) -> Any:
    """A stored value as the form input shows it."""
    if value is None:
        return ""
    kind = definition["type"]
    if kind in ("object", "array"):
        return json.dumps(value, indent=2)
    if kind == "date" and isinstance(value, str):
        return value[:16]
    if kind == "boolean":
        return value if isinstance(value, str) else "true" if value else "false"
    return value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)

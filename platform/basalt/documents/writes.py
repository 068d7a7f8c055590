"""Turn a client body into stored data: field validation, defaults and the update operators."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from basalt.core.errors import InvalidOperation, ValidationFailed
from basalt.documents.cache import Schema
from basalt.documents.fields import FieldError
from basalt.documents.fields.array import ArrayType
from basalt.documents.fields.common import check_number
from basalt.documents.fields.relation import check_ids
from basalt.documents.schema import SYSTEM_FIELDS

OPERATORS = frozenset({"increment", "add", "add_unique", "remove", "unset", "add_relation", "remove_relation"})
ARRAY_OPS = frozenset({"add", "add_unique", "remove"})
# Operations whose outcome depends on the stored value: whether they succeed (a `max`, ±2^53, an
# array's `max_length`, items already present) would tell a writer what they may not read.
RELATIVE_OPS = frozenset({"increment", *ARRAY_OPS})
MAX_OP_ITEMS = 1000


# Areas whose field types reference rows they own check those references at write time (files: a
# `file` field names a ready file of the project). A check gets the project, the schema, the new data
# and the names written (None: all) and returns {field: [message]} for the references that fail.
ReferenceCheck = Callable[[int, Schema, dict[str, Any], "set[str] | None"], dict[str, list[str]]]
REFERENCE_CHECKS: list[ReferenceCheck] = []


def check_references(project_id: int, schema: Schema, data: dict[str, Any], names: set[str] | None) -> None:
    if names is not None and not names:
        return
    errors: dict[str, list[str]] = {}
    for check in REFERENCE_CHECKS:
        errors.update(check(project_id, schema, data, names))
    if errors:
        raise ValidationFailed(details=errors)


@dataclass
class Changes:
    """What a create or update asks for, validated: new data, ACL (if given) and relation edits."""

    data: dict[str, Any]
    acl: Any = None
    acl_given: bool = False
    add_edges: dict[str, list[str]] = field(default_factory=dict)
    remove_edges: dict[str, list[str]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed(details={"body": ["Must be a JSON object."]})
    return body


def _split(
    schema: Schema, body: dict[str, Any], errors: dict[str, list[str]], nested: bool = False
) -> tuple[Changes, dict[str, Any]]:
    changes = Changes(data={})
    values: dict[str, Any] = {}
    for key, value in body.items():
        if key == "acl":
            changes.acl, changes.acl_given = value, True
        elif key in SYSTEM_FIELDS:
            errors[key] = ["A read-only system field."]
        elif nested and _nested_target(schema, key) is not None:
            values[key] = value
        elif key not in schema.fields:
            errors[str(key)[:80]] = ["Unknown field."]
        else:
            values[key] = value
    return changes, values


def prepare_create(schema: Schema, body: Any) -> Changes:
    errors: dict[str, list[str]] = {}
    changes, values = _split(schema, _body(body), errors)
    data = changes.data
    for name, (field_type, options) in schema.fields.items():
        value = values.get(name)
        if not field_type.stored_in_data:
            if value is None:
                continue
            if isinstance(value, dict) and value.get("__op") == "add_relation":
                value = value.get("ids")
            try:
                changes.add_edges[name] = check_ids(value)
            except FieldError as exc:
                errors[name] = [str(exc)]
            continue
        if value is None:
            if "default" in options:
                data[name] = options["default"]
            elif options.get("required"):
                errors[name] = ["This field is required."]
            continue
        try:
            data[name] = field_type.to_storage(value, options)
        except FieldError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise ValidationFailed(details=errors)
    return changes


def apply_update(schema: Schema, current: dict[str, Any], body: Any, blind: frozenset[str] = frozenset()) -> Changes:
    """Apply values and `__op` operations to a copy of the current data (already row-locked).

    `blind` names the fields whose value the caller may not read: they can be set or unset, but
    not changed relative to their value (see RELATIVE_OPS)."""
    errors: dict[str, list[str]] = {}
    changes, values = _split(schema, _body(body), errors, nested=True)
    # Keys of removed fields are dropped on write, so a re-added field never sees stale values.
    data = {key: value for key, value in current.items() if key in schema.fields}
    changes.data = data
    for name, value in values.items():
        if name not in schema.fields:
            _apply_nested(changes, schema, name, value, blind, errors)
            continue
        field_type, options = schema.fields[name]
        changes.touched.add(name)
        try:
            if isinstance(value, dict) and "__op" in value:
                kind = value.get("__op")
                if name in blind and isinstance(kind, str) and kind in RELATIVE_OPS:
                    raise InvalidOperation(
                        f"{kind} needs read access to the field's current value; set the value instead.",
                        details={name: ["Needs read access to the current value."]},
                    )
                _operate(changes, name, field_type, options, value)
            elif not field_type.stored_in_data:
                raise FieldError("Change a relation with add_relation / remove_relation.")
            elif value is None:
                data.pop(name, None)
            else:
                data[name] = field_type.to_storage(value, options)
        except FieldError as exc:
            errors[name] = [str(exc)]
        if name in schema.fields and options.get("required") and field_type.stored_in_data and name not in data:
            errors.setdefault(name, ["This field is required."])
    if errors:
        raise ValidationFailed(details=errors)
    return changes


MAX_NESTED_DEPTH = 8


def _nested_target(schema: Schema, key: Any) -> str | None:
    """`meta.a.b` names a key inside the object field `meta`: its head, else None."""
    if not isinstance(key, str) or "." not in key:
        return None
    head, *path = key.split(".")
    spec = schema.fields.get(head)
    if spec is None or spec[0].name != "object" or not all(path) or len(path) > MAX_NESTED_DEPTH:
        return None
    return head


def _apply_nested(
    changes: Changes, schema: Schema, key: str, value: Any, blind: frozenset[str], errors: dict[str, list[str]]
) -> None:
    """Set, unset or operate on one key inside an object field (`{"meta.count": {"__op": "increment"}}`),
    under the same row lock as the rest of the update, so nested increments are atomic too."""
    head, *path = key.split(".")
    field_type, options = schema.fields[head]
    changes.touched.add(head)
    kind = value.get("__op") if isinstance(value, dict) else None
    if head in blind and isinstance(kind, str) and kind in RELATIVE_OPS:
        errors[key] = ["Needs read access to the current value."]
        return
    current = changes.data.get(head)
    root = copy.deepcopy(current) if isinstance(current, dict) else {}
    node = root
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    leaf = path[-1]
    try:
        if kind is None:
            if value is None:
                node.pop(leaf, None)
            else:
                node[leaf] = value
        elif kind == "unset" and set(value) == {"__op"}:
            node.pop(leaf, None)
        elif kind == "increment" and set(value) <= {"__op", "by"}:
            by = check_number(value.get("by", 1), "`by`")
            present = node.get(leaf, 0)
            if not isinstance(present, int | float) or isinstance(present, bool):
                raise FieldError("increment needs a number at this key.")
            node[leaf] = present + by
        elif kind in ARRAY_OPS and set(value) == {"__op", "items"}:
            items = value["items"]
            if not isinstance(items, list) or len(items) > MAX_OP_ITEMS:
                raise FieldError(f"`items` must be a list of at most {MAX_OP_ITEMS} values.")
            present = node.get(leaf)
            node[leaf] = array_op(kind, present if isinstance(present, list) else [], items)
        else:
            raise FieldError(f"{str(kind)[:40]} does not apply inside an object field.")
        changes.data[head] = field_type.to_storage(root, options)
    except FieldError as exc:
        errors[key] = [str(exc)]


def _operate(changes: Changes, name: str, field_type, options: dict[str, Any], op: dict[str, Any]) -> None:
    kind = op.get("__op")
    if not isinstance(kind, str) or kind not in OPERATORS:
        raise InvalidOperation(f"Unknown operation {str(kind)[:40]!r}.", details={name: ["Unknown operation."]})
    allowed_keys = {"increment": {"by"}, "unset": set(), "add_relation": {"ids"}, "remove_relation": {"ids"}}.get(
        kind, {"items"}
    )
    if set(op) - {"__op"} - allowed_keys:
        raise FieldError(f"{kind} takes only {', '.join(sorted(allowed_keys)) or 'no arguments'}.")
    data = changes.data
    if kind in ("add_relation", "remove_relation"):
        if field_type.stored_in_data:
            _wrong(kind, field_type.name)
        target = changes.add_edges if kind == "add_relation" else changes.remove_edges
        target[name] = check_ids(op.get("ids"))
    elif not field_type.stored_in_data:
        _wrong(kind, field_type.name)
    elif kind == "unset":
        data.pop(name, None)
    elif kind == "increment":
        if field_type.name != "number":
            _wrong(kind, field_type.name)
        by = check_number(op.get("by", 1), "`by`")
        current = data.get(name, 0)
        if not isinstance(current, int | float) or isinstance(current, bool):
            current = 0
        data[name] = field_type.to_storage(current + by, options)
    else:
        if not isinstance(field_type, ArrayType):
            _wrong(kind, field_type.name)
        items = op.get("items")
        if not isinstance(items, list) or len(items) > MAX_OP_ITEMS:
            raise FieldError(f"`items` must be a list of at most {MAX_OP_ITEMS} values.")
        items = [field_type.coerce_element(item, options, strict=True) for item in items]
        data[name] = field_type.to_storage(array_op(kind, data.get(name) or [], items), options)


def array_op(kind: str, current: list[Any], items: list[Any]) -> list[Any]:
    """`add`, `add_unique` or `remove` of `items` on a copy of `current`, with JSON equality."""
    out = list(current)
    if kind == "add":
        out.extend(items)
    elif kind == "add_unique":
        for item in items:
            if not any(same_json(item, present) for present in out):
                out.append(item)
    else:
        out = [present for present in out if not any(same_json(item, present) for item in items)]
    return out


def same_json(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's, true is not 1, also inside arrays and objects."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _wrong(kind: str, type_name: str) -> None:
    raise InvalidOperation(f"{kind} does not apply to a {type_name} field.")

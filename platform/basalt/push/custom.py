"""App-defined installation fields: `custom`, a bounded JSON object beside the built-in fields.

Parse apps add their own keys to `_Installation` (`favoriteTeam`, `appBuild`, a `user`-like
pointer, `subscribedToNews`) and target pushes with queries over them. Here they live in one
object field, `custom`, that the push area alone writes (`documents.builtin.MANAGED`): names are
Basalt names (`[a-z][a-z0-9_]*`, 63 characters at most, none of the built-in installation names),
values are JSON (string, number, boolean, array, object) plus two tagged forms that survive a
round trip through JSON: `{"__type": "Date", "iso": "2026-12-06T10:00:00.000Z"}` (stored in that
exact UTC millisecond form, so dates compare as strings) and `{"__type": "Pointer",
"collection": "teams", "id": "…"}`. Bounded: at most `MAX_KEYS` keys and `MAX_BYTES` bytes of
JSON for the whole object after a change, `MAX_DEPTH` levels of nesting, nested keys without
`$` or `.`. A change is a merge: a key set to a value replaces it, `null` or `{"__op": "unset"}`
removes it, `{"__op": "increment", "by": n}` adds to a number (a missing key counts as 0),
`add` / `add_unique` / `remove` with `items` change an array. Any refusal raises before anything
is written (the caller holds the row lock and the transaction)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from basalt.core.errors import ValidationFailed
from basalt.documents import schema
from basalt.documents.fields import FieldError
from basalt.documents.fields.common import ID_PATTERN, is_number
from basalt.documents.fields.date import parse_instant
from basalt.documents.writes import array_op

FIELD = "custom"
MAX_KEYS = 64
MAX_BYTES = 8192
MAX_DEPTH = 5
# Custom field names and a Pointer's collection are Basalt names, its id a document id.
NAME = schema.NAME
_NESTED_BAD = re.compile(r"[$.\x00-\x1f]")
# The built-in fields, the system fields, and what Parse's own installation keys encode to: a
# custom key with one of these names would read back ambiguously through one face or the other.
RESERVED = frozenset(
    {"platform", "provider", "token", "channels", "locale", "timezone", "app_version", "badge", "user", "active"}
    | {"id", "created_at", "updated_at", "acl", "custom", "object_id"}
    | {"device_type", "device_token", "locale_identifier", "time_zone", "push_type"}
)


def _err(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field: [message]})


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise _err(
            f"{FIELD}.{str(name)[:40]}", "Custom field names are a lowercase letter, then letters, digits or '_'."
        )
    if name in RESERVED:
        raise _err(f"{FIELD}.{name}", "This name is reserved for a built-in installation field.")
    return name


def normal_date(iso: Any, where: str) -> str:
    """An RFC 3339 date-time with an offset, as UTC with milliseconds (the stored form of dates)."""
    try:
        return parse_instant(iso, with_offset=True)
    except FieldError:
        raise _err(where, "A Date needs iso: an RFC 3339 date-time with an offset (Z for UTC).") from None


def clean_value(value: Any, where: str, depth: int = 0) -> Any:
    """One custom value in its stored form, or 400 naming where it is."""
    if depth > MAX_DEPTH:
        raise _err(where, f"Custom values nest at most {MAX_DEPTH} levels.")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if not is_number(value):
            raise _err(where, _NUMBERS)
        return value
    if isinstance(value, list):
        return [clean_value(item, where, depth + 1) for item in value]
    if not isinstance(value, dict):
        raise _err(where, "Must be a string, number, boolean, array, object, Date or Pointer.")
    kind = value.get("__type")
    if kind == "Date":
        if set(value) != {"__type", "iso"}:
            raise _err(where, 'A Date is {"__type": "Date", "iso": "…"}.')
        return {"__type": "Date", "iso": normal_date(value["iso"], where)}
    if kind == "Pointer":
        collection, ident = value.get("collection"), value.get("id")
        if (
            set(value) != {"__type", "collection", "id"}
            or not isinstance(collection, str)
            or not NAME.match(collection)
            or not isinstance(ident, str)
            or not ID_PATTERN.match(ident)
        ):
            raise _err(where, 'A Pointer is {"__type": "Pointer", "collection": "<name>", "id": "<document id>"}.')
        return {"__type": "Pointer", "collection": collection, "id": ident}
    if "__type" in value:
        raise _err(where, "__type is Date or Pointer.")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 64 or _NESTED_BAD.search(key) or key.startswith("__"):
            raise _err(where, "Nested keys are 1 to 64 characters, no '$', '.', control characters or leading '__'.")
        out[key] = clean_value(item, f"{where}.{key}", depth + 1)
    return out


# As for every number Basalt stores (documents.fields.common): JSON clients read them as doubles.
_NUMBERS = "Numbers must be finite, integers within ±2^53."


def _operate(current: Any, op: dict[str, Any], where: str) -> tuple[bool, Any]:
    """(keep, value) after one operation on the current value (missing is None)."""
    kind = op.get("__op")
    if kind == "unset" and set(op) == {"__op"}:
        return False, None
    if kind == "increment" and set(op) <= {"__op", "by"}:
        by = op.get("by", 1)
        if not is_number(by):
            raise _err(where, f"increment takes a number `by`. {_NUMBERS}")
        if current is not None and not is_number(current):
            raise _err(where, "Only a number can be incremented.")
        total = (current or 0) + by
        if not is_number(total):
            raise _err(where, f"The incremented value is out of range. {_NUMBERS}")
        return True, total
    if kind in ("add", "add_unique", "remove") and set(op) == {"__op", "items"}:
        items = op["items"]
        if not isinstance(items, list):
            raise _err(where, f"{kind} takes a list `items`.")
        items = [clean_value(item, where, 1) for item in items]
        if current is not None and not isinstance(current, list):
            raise _err(where, f"{kind} works on an array.")
        return True, array_op(kind, current or [], items)
    raise _err(where, "Operations are unset, increment (by), add, add_unique and remove (items).")


def apply(current: Any, changes: Any) -> dict[str, Any]:
    """`current` (the stored object, or None) with `changes` merged in, checked whole."""
    if not isinstance(changes, dict):
        raise _err(FIELD, "Must be an object of custom fields.")
    out = dict(current) if isinstance(current, dict) else {}
    for name, value in changes.items():
        where = f"{FIELD}.{check_name(name)}"
        if value is None:
            out.pop(name, None)
        elif isinstance(value, dict) and "__op" in value:
            keep, result = _operate(out.get(name), value, where)
            if keep:
                out[name] = result
            else:
                out.pop(name, None)
        else:
            out[name] = clean_value(value, where)
    if len(out) > MAX_KEYS:
        raise _err(FIELD, f"An installation keeps at most {MAX_KEYS} custom fields.")
    size = len(orjson.dumps(out))
    if size > MAX_BYTES:
        raise _err(FIELD, f"Custom fields take {size} bytes of JSON; the limit is {MAX_BYTES}.")
    return out

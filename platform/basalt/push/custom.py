"""App-defined installation fields: `custom`, a bounded JSON object beside the built-in fields.

Parse apps add their own keys to `_Installation` (`favoriteTeam`, `appBuild`, a `user`-like
pointer, `subscribedToNews`, a `location`) and target pushes with queries over them. Here they
live in one object field, `custom`, that the push area alone writes (`documents.builtin.MANAGED`):
names are Basalt names (`[a-z][a-z0-9_]*`, 63 characters at most, none of the built-in
installation names), values are JSON (string, number, boolean, array, object) plus tagged forms
that survive a round trip through JSON, at any depth:
`{"__type": "Date", "iso": "2026-12-06T10:00:00.000Z"}` (stored in that exact UTC millisecond
form, so dates compare as strings), `{"__type": "Pointer", "collection": "teams", "id": "…"}`,
`{"__type": "GeoPoint", "lat": 48.85, "lng": 2.35}`, `{"__type": "Bytes", "base64": "…"}` and
`{"__type": "File", "id": "<file id>"}` (a ready file of the project, checked when written through
`files`; stored with its `name`). At most one top-level key holds a GeoPoint (Parse keeps one per
class). Bounded: at most `MAX_KEYS` keys and `MAX_BYTES` bytes of JSON for the whole object after
a change, `MAX_DEPTH` levels of nesting, nested keys without `$` or `.`. A change is a merge: a
key set to a value replaces it, `null` or `{"__op": "unset"}` removes it, `{"__op": "increment",
"by": n}` adds to a number (a missing key counts as 0), `add` / `add_unique` / `remove` with
`items` change an array. A dotted key (`prefs.sound`) does the same inside the field's object,
making the objects on its way when missing (a null set there is stored as null). Any refusal
raises before anything is written (the caller holds the row lock and the transaction)."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from basalt.core.errors import ValidationFailed
from basalt.core.json import NUL_MESSAGE
from basalt.documents import schema
from basalt.documents.fields import FieldError
from basalt.documents.fields.common import ID_PATTERN, is_number
from basalt.documents.fields.date import parse_instant
from basalt.documents.fields.geopoint import check_point
from basalt.documents.writes import array_op

FIELD = "custom"
MAX_KEYS = 64
MAX_BYTES = 8192
MAX_DEPTH = 5
MAX_CHANGES = 256
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


# file ids -> their names, for the ready files of the project among them (`apply`'s `files`).
FileNames = Callable[[set[str]], dict[str, str]]
TAGGED = ("Date", "Pointer", "GeoPoint", "Bytes", "File")


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
    if isinstance(value, str) and "\x00" in value:
        raise _err(where, NUL_MESSAGE)
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        if not is_number(value):
            raise _err(where, _NUMBERS)
        return value
    if isinstance(value, list):
        return [clean_value(item, where, depth + 1) for item in value]
    if not isinstance(value, dict):
        raise _err(where, f"Must be a string, number, boolean, array, object or one of {', '.join(TAGGED)}.")
    kind = value.get("__type")
    if kind is not None:
        return _tagged(kind, value, where)
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not nested_key_ok(key):
            raise _err(where, _NESTED_RULE)
        out[key] = clean_value(item, f"{where}.{key}", depth + 1)
    return out


_NESTED_RULE = "Nested keys are 1 to 64 characters, no '$', '.', control characters or leading '__'."


def nested_key_ok(key: Any) -> bool:
    return isinstance(key, str) and 0 < len(key) <= 64 and not _NESTED_BAD.search(key) and not key.startswith("__")


def _tagged(kind: Any, value: dict[str, Any], where: str) -> dict[str, Any]:
    """One of the tagged forms (`TAGGED`), in its stored form."""
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
    if kind == "GeoPoint":
        try:
            if set(value) != {"__type", "lat", "lng"}:
                raise FieldError("keys")
            return {"__type": "GeoPoint", **check_point({"lat": value["lat"], "lng": value["lng"]})}
        except FieldError:
            raise _err(where, 'A GeoPoint is {"__type": "GeoPoint", "lat": -90..90, "lng": -180..180}.') from None
    if kind == "Bytes":
        data = value.get("base64")
        if isinstance(data, str) and len(data) > MAX_BYTES:  # past the whole object's bound, undecoded
            raise _err(FIELD, f"Custom fields take more than {MAX_BYTES} bytes of JSON; the limit is {MAX_BYTES}.")
        if set(value) != {"__type", "base64"} or not isinstance(data, str) or not _is_base64(data):
            raise _err(where, 'Bytes are {"__type": "Bytes", "base64": "<standard base64>"}.')
        return {"__type": "Bytes", "base64": data}
    if kind == "File":
        # The name is the stored file's own, filled in by `apply` (a client's is not taken).
        ident = value.get("id")
        if set(value) - {"__type", "id", "name"} or not isinstance(ident, str) or not ID_PATTERN.match(ident):
            raise _err(where, 'A File is {"__type": "File", "id": "<file id>"}.')
        return {"__type": "File", "id": ident}
    raise _err(where, f"__type is one of {', '.join(TAGGED)}.")


def _is_base64(data: str) -> bool:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# As for every number Basalt stores (documents.fields.common): JSON clients read them as doubles.
_NUMBERS = "Numbers must be finite, integers within ±2^53."


def _operate(current: Any, op: dict[str, Any], where: str, depth: int = 0) -> tuple[bool, Any]:
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
        items = [clean_value(item, where, depth + 1) for item in items]
        if current is not None and not isinstance(current, list):
            raise _err(where, f"{kind} works on an array.")
        return True, array_op(kind, current or [], items)
    raise _err(where, "Operations are unset, increment (by), add, add_unique and remove (items).")


def split_key(name: Any) -> tuple[str, list[str]]:
    """A change's key: the field's name, and the path inside its object for a dotted key."""
    if not isinstance(name, str) or "." not in name:
        return check_name(name), []
    head, *path = name.split(".")
    check_name(head)
    if len(path) > MAX_DEPTH:
        raise _err(f"{FIELD}.{head}", f"Custom values nest at most {MAX_DEPTH} levels.")
    if not all(nested_key_ok(key) for key in path):
        raise _err(f"{FIELD}.{head}", _NESTED_RULE)
    return head, path


def _change_at(container: Any, path: list[str], value: Any, where: str, depth: int = 1) -> Any:
    """`container` (an object, or None when missing) with the change made at `path` inside it."""
    if container is not None and (not isinstance(container, dict) or "__type" in container):
        raise _err(where, "A dotted key changes a key inside an object: this value is not one.")
    unset = isinstance(value, dict) and value.get("__op") == "unset"
    if container is None and unset:
        return None  # nothing there to remove
    out = dict(container or {})
    key = path[0]
    if len(path) > 1:
        inner = _change_at(out.get(key), path[1:], value, where, depth + 1)
        if inner is not None:
            out[key] = inner
        return out
    _change_key(out, key, value, where, depth)
    return out


def _change_key(fields: dict[str, Any], key: str, value: Any, where: str, depth: int) -> None:
    """Make one change to `fields[key]`: a value replaces it, an operation operates on it (or removes it)."""
    if isinstance(value, dict) and "__op" in value:
        keep, result = _operate(fields.get(key), value, where, depth)
    else:
        keep, result = True, clean_value(value, where, depth)
    if keep:
        fields[key] = result
    else:
        fields.pop(key, None)


def apply(current: Any, changes: Any, files: FileNames | None = None) -> dict[str, Any]:
    """`current` (the stored object, or None) with `changes` merged in, checked whole.

    `files` names the project's ready files among some ids: a File value set by the change must be
    one of them (without it, File values are refused: the Parse import keeps none)."""
    if not isinstance(changes, dict):
        raise _err(FIELD, "Must be an object of custom fields.")
    if len(changes) > MAX_CHANGES:  # each dotted key copies the objects on its way: bounded work
        raise _err(FIELD, f"A change names at most {MAX_CHANGES} custom fields.")
    out = dict(current) if isinstance(current, dict) else {}
    for name, value in changes.items():
        head, path = split_key(name)
        where = f"{FIELD}.{name}"
        if path:
            changed = _change_at(out.get(head), path, value, where)
            if changed is not None:
                out[head] = changed
        elif value is None:
            out.pop(head, None)
        else:
            _change_key(out, head, value, where, 0)
    if len(out) > MAX_KEYS:
        raise _err(FIELD, f"An installation keeps at most {MAX_KEYS} custom fields.")
    points = [name for name, value in out.items() if _is_tagged(value, "GeoPoint")]
    if len(points) > 1:
        raise _err(f"{FIELD}.{points[1]}", "An installation keeps at most one GeoPoint field.")
    _name_files(out, files)
    size = len(orjson.dumps(out))
    if size > MAX_BYTES:
        raise _err(FIELD, f"Custom fields take {size} bytes of JSON; the limit is {MAX_BYTES}.")
    return out


def _is_tagged(value: Any, kind: str) -> bool:
    return isinstance(value, dict) and value.get("__type") == kind


def tagged_values(value: Any, kind: str) -> Iterable[dict[str, Any]]:
    """Every value of one tagged form inside a custom value (at any depth)."""
    if isinstance(value, list):
        for item in value:
            yield from tagged_values(item, kind)
    elif _is_tagged(value, kind):
        yield value
    elif isinstance(value, dict) and "__type" not in value:
        for item in value.values():
            yield from tagged_values(item, kind)


def _name_files(fields: dict[str, Any], files: FileNames | None) -> None:
    """Give each File value the change set (one without its name) the name of the ready file it
    names, or refuse it (an unknown, pending, deleted or other project's file)."""
    unnamed = {name: [f for f in tagged_values(value, "File") if "name" not in f] for name, value in fields.items()}
    unnamed = {name: found for name, found in unnamed.items() if found}
    if not unnamed:
        return
    if files is None:
        raise _err(f"{FIELD}.{next(iter(unnamed))}", "File values are not accepted here.")
    known = files({f["id"] for found in unnamed.values() for f in found})
    for name, found in unnamed.items():
        for value in found:
            if value["id"] not in known:
                raise _err(f"{FIELD}.{name}", f"No file with id {value['id']!r} in this project (upload it first).")
            value["name"] = known[value["id"]]

"""Parse encodings ↔ Basalt values: objects, pointers, dates, geopoints, files, ACLs, operations."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest

from basalt.documents.cache import Schema, project_schemas
from basalt.parse import names
from basalt.parse.errors import INCORRECT_TYPE, INVALID_ACL, INVALID_JSON, INVALID_POINTER, ParseError

# Parse operations → Basalt's (API.md §3); each takes the Parse arguments named here.
OPS = {
    "Increment": "increment",
    "Add": "add",
    "AddUnique": "add_unique",
    "Remove": "remove",
    "Delete": "unset",
    "AddRelation": "add_relation",
    "RemoveRelation": "remove_relation",
}
# The request being answered, for its origin: Parse clients use file URLs as they are, so they are
# absolute. Worked out only when a file is rendered (host validation and URL building are not free).
REQUEST: ContextVar[HttpRequest | None] = ContextVar("parse_request", default=None)
# Stored inside an `object` field as Parse sends them, so they read back unchanged.
OPAQUE_TYPES = frozenset({"Bytes", "Polygon"})


def base_url() -> str:
    """The server's own origin for this request ("" outside one: LiveQuery events)."""
    request = REQUEST.get()
    if request is None:
        return ""
    url = getattr(request, "_parse_base_url", None)
    if url is None:
        url = request._parse_base_url = request.build_absolute_uri("/").rstrip("/")
    return url


def file_name(file_id: str, name: str) -> str:
    """Parse files are named by the server; the name carries our id so a File value can be stored."""
    return f"{file_id}_{name}"


def file_id(value: dict[str, Any]) -> str:
    name = value.get("name")
    if not isinstance(name, str) or "_" not in name:
        raise ParseError(INCORRECT_TYPE, "A File needs the name the server gave it.")
    return name.split("_", 1)[0]


def _pointer_id(value: dict[str, Any]) -> str:
    object_id = value.get("objectId")
    if not isinstance(object_id, str) or not object_id:
        raise ParseError(INVALID_POINTER, "A Pointer needs an objectId.")
    return object_id


def to_native(value: Any) -> Any:
    """One Parse value as Basalt stores it (types are checked by the documents service)."""
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind is not None and not isinstance(kind, str):
            raise ParseError(INCORRECT_TYPE, "__type must be a string.")
        if kind in ("Pointer", "Object"):
            return _pointer_id(value)
        if kind == "Date":
            iso = value.get("iso")
            if not isinstance(iso, str):
                raise ParseError(INCORRECT_TYPE, "A Date needs iso.")
            return iso
        if kind == "GeoPoint":
            lat, lng = value.get("latitude"), value.get("longitude")
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, lng)):
                raise ParseError(INCORRECT_TYPE, "A GeoPoint needs numeric latitude and longitude.")
            return {"lat": lat, "lng": lng}
        if kind == "File":
            return file_id(value)
        if kind == "Relation":
            raise ParseError(INCORRECT_TYPE, "A Relation is changed with AddRelation / RemoveRelation.")
        if kind is None or kind in OPAQUE_TYPES:
            return value
        raise ParseError(INCORRECT_TYPE, f"Unknown __type {str(kind)[:40]}.")
    return value


def operation(op: dict[str, Any]) -> dict[str, Any]:
    kind = op.get("__op")
    native = OPS.get(kind) if isinstance(kind, str) else None
    if native is None:
        raise ParseError(INVALID_JSON, f"bad op {str(kind)[:40]}")
    if native == "increment":
        amount = op.get("amount", 1)
        return {"__op": native, "by": amount}
    if native == "unset":
        return {"__op": native}
    objects = op.get("objects")
    if not isinstance(objects, list):
        raise ParseError(INVALID_JSON, "objects to add must be an array")
    if native in ("add_relation", "remove_relation"):
        return {"__op": native, "ids": [_pointer_id(o) if isinstance(o, dict) else o for o in objects]}
    return {"__op": native, "items": objects}


def acl_to_native(acl: Any) -> dict[str, Any]:
    if not isinstance(acl, dict):
        raise ParseError(INVALID_ACL, "Invalid ACL.")
    out: dict[str, Any] = {}
    for key, rights in acl.items():
        if not isinstance(key, str) or not isinstance(rights, dict):
            raise ParseError(INVALID_ACL, "Invalid ACL.")
        if key.startswith("role:"):
            key = "role:" + names.encode_role(key[5:])
        out[key] = rights
    return out


def acl_to_parse(acl: Any) -> dict[str, Any]:
    if not isinstance(acl, dict):
        return acl
    for key in acl:
        if key.startswith("role:"):
            break
    else:
        return dict(acl)  # user ids and "*" read the same in both faces
    return {("role:" + names.decode_role(k[5:]) if k.startswith("role:") else k): v for k, v in acl.items()}


def body_to_native(schema: Schema | None, body: dict[str, Any]) -> dict[str, Any]:
    """A Parse create/update body as a documents-service body (names encoded, values converted)."""
    out: dict[str, Any] = {}
    resolved = _plan(schema)[3]
    for key, value in body.items():
        if key in ("objectId", "createdAt", "updatedAt"):
            continue  # Parse ignores (and its SDKs resend) these on writes
        if key == "ACL":
            out["acl"] = acl_to_native(value)
            continue
        head, dot, rest = key.partition(".") if isinstance(key, str) else (key, "", "")
        native = (resolved.get(head) or field_name(schema, head)) + dot + rest  # keys inside an object are kept as sent
        if isinstance(value, dict) and "__op" in value:
            out[native] = operation(value)
        else:
            out[native] = to_native(value)
    return out


def _pointer_out(class_name: str, value: Any, project) -> Any:
    if isinstance(value, str):
        return {"__type": "Pointer", "className": class_name, "objectId": value}
    if isinstance(value, dict) and "id" in value:
        target = project_schemas(project).get(names.encode_class(class_name)) if project else None
        return {"__type": "Object", "className": class_name, **doc_to_parse(target, value, project)}
    return value


# A schema's fields as doc_to_parse needs them, worked out once per schema (a Schema is replaced,
# never changed, when its collection changes): native name -> (Parse name, the type when its value
# is converted (pointer, date, geopoint, file; None for a value passed as is, "acl" for the ACL),
# pointer's Parse class), the relation fields (Parse name, target's Parse class), the Parse names
# of writes already resolved against this schema's fields (`field_name`), and the key lists of
# write bodies whose every field the schema has (`has_fields`). Keyed by id with the schema kept,
# so an id reused by a later schema is told apart.
_Plan = tuple[
    Schema | None,
    dict[str, tuple[str, str | None, str | None]],
    tuple[tuple[str, str], ...],
    dict[str, str],
    set[tuple[str, ...]],
]
_plans: dict[int, _Plan] = {}
MAX_PLANS = 2000
MAX_RESOLVED = 512  # distinct Parse names kept per schema (a client may send any number of bad ones)
_CONVERTED = frozenset({"pointer", "date", "geopoint", "file"})


def _plan(schema: Schema | None) -> _Plan:
    entry = _plans.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry
    fields: dict[str, tuple[str, str | None, str | None]] = {}
    relations: list[tuple[str, str]] = []
    for key, (field_type, options) in (schema.fields if schema is not None else {}).items():
        target = names.decode_class(options.get("to", "")) if field_type.name == "pointer" else None
        kind = field_type.name if field_type.name in _CONVERTED else None
        fields[key] = (names.decode(key), kind, target)
        if not field_type.stored_in_data:
            relations.append((names.decode(key), names.decode_class(options.get("to", ""))))
    for key in ("id", "created_at", "updated_at"):
        fields.setdefault(key, (names.decode(key), None, None))
    fields["acl"] = ("ACL", "acl", None)  # the document's ACL, whatever the schema holds
    entry = (schema, fields, tuple(relations), {}, set())
    if len(_plans) >= MAX_PLANS:
        _plans.clear()
    _plans[id(schema)] = entry
    return entry


def field_name(schema: Schema | None, name: str) -> str:
    """`names.resolve(name, schema.fields)`, remembered per schema (a batch resolves the same few
    keys of every object twice: for schema-on-write and for the body). A refused name raises, and
    what raises is not kept."""
    resolved = _plan(schema)[3]
    native = resolved.get(name)
    if native is None:
        native = names.resolve(name, schema.fields if schema is not None else {})
        if len(resolved) < MAX_RESOLVED:
            resolved[name] = native
    return native


def has_fields(schema: Schema | None, keys: tuple[str, ...]) -> bool:
    """Whether a write body with these keys was found to name only fields the schema has (a batch
    sends the same keys for every object: its schema-on-write check is then one lookup)."""
    return keys in _plan(schema)[4]


def note_has_fields(schema: Schema | None, keys: tuple[str, ...]) -> None:
    known = _plan(schema)[4]
    if len(known) < MAX_RESOLVED:
        known.add(keys)


def doc_to_parse(schema: Schema | None, doc: dict[str, Any], project=None, *, relations: bool = True) -> dict[str, Any]:
    """A rendered Basalt document (or write receipt) in Parse's encoding."""
    return _to_parse(_plan(schema), doc, project, relations)


def docs_to_parse(schema: Schema | None, docs: list[dict[str, Any]], project=None) -> list[dict[str, Any]]:
    """`doc_to_parse` of each of a find's documents, the schema's plan looked up once."""
    plan = _plan(schema)
    return [_to_parse(plan, doc, project, True) for doc in docs]


def _to_parse(plan: _Plan, doc: dict[str, Any], project, relations: bool) -> dict[str, Any]:
    fields = plan[1]
    out: dict[str, Any] = {}
    for key, value in doc.items():
        spec = fields.get(key)
        if spec is None:
            out[names.decode(key)] = value
            continue
        name, type_name, target = spec
        if type_name is None or value is None:
            out[name] = value
        elif type_name == "acl":
            out[name] = acl_to_parse(value)
        elif type_name == "pointer":
            out[name] = _pointer_out(target or "", value, project)
        elif type_name == "date":
            out[name] = {"__type": "Date", "iso": value} if isinstance(value, str) else value
        elif type_name == "geopoint":
            if isinstance(value, dict):
                out[name] = {"__type": "GeoPoint", "latitude": value.get("lat"), "longitude": value.get("lng")}
            else:
                out[name] = value
        elif isinstance(value, dict):  # file
            url = value["url"]
            url = base_url() + url if isinstance(url, str) and url.startswith("/") else url
            out[name] = {"__type": "File", "name": file_name(value["id"], value["name"]), "url": url}
        else:
            out[name] = {"__type": "File", "name": file_name(str(value), "file"), "url": None}
    if relations and plan[2] and "id" in doc and "created_at" in doc:
        for name, target in plan[2]:
            out[name] = {"__type": "Relation", "className": target}
    return out


def infer_type(value: Any) -> dict[str, Any] | None:
    """The Basalt field a Parse value would need (client class creation), None for Delete."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int | float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array"}
    if isinstance(value, dict):
        kind, op = value.get("__type"), value.get("__op")
        if kind in ("Pointer", "Object") and isinstance(value.get("className"), str):
            return {"type": "pointer", "to": names.encode_class(value["className"])}
        if kind == "Date":
            return {"type": "date"}
        if kind == "GeoPoint":
            return {"type": "geopoint"}
        if kind == "File":
            return {"type": "file"}
        if op == "Increment":
            return {"type": "number"}
        if op in ("Add", "AddUnique", "Remove"):
            return {"type": "array"}
        if op in ("AddRelation", "RemoveRelation"):
            objects = value.get("objects")
            first = objects[0] if isinstance(objects, list) and objects else None
            if isinstance(first, dict) and isinstance(first.get("className"), str):
                return {"type": "relation", "to": names.encode_class(first["className"])}
            return None
        if op == "Delete":
            return None
        return {"type": "object"}
    return None

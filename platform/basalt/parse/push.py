"""Parse installations and push over Basalt's push area (API.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.files.services import content_url
from basalt.parse import codec, names, objects, queries
from basalt.parse.errors import INCORRECT_TYPE, INVALID_JSON, INVALID_KEY_NAME, INVALID_POINTER, ParseError
from basalt.parse.request import ParseRequest
from basalt.push import custom, installations, services

# Parse installation keys ↔ Basalt installation fields.
FIELDS = {
    "deviceType": "platform",
    "deviceToken": "token",
    "channels": "channels",
    "localeIdentifier": "locale",
    "timeZone": "timezone",
    "appVersion": "app_version",
    "badge": "badge",
    "user": "user",
}
PARSE_FIELDS = {native: parse for parse, native in FIELDS.items()}
# Keys Parse SDKs send that name nothing to store (the server sets or ignores them). Every other
# key is an app-defined field, kept in the installation's `custom` object (push/custom.py) under
# its Basalt name (`favoriteTeam` ↔ `favorite_team`), including the SDKs' own `installationId`,
# `appIdentifier`, `appName` and `parseVersion`, so a push can target them as on Parse Server.
IGNORED = frozenset({"GCMSenderId", "pushType", "ACL", "objectId", "createdAt", "updatedAt"})
# Keys that read back as built-in values: an app may not shadow them with a custom field.
RENDERED = frozenset(FIELDS) | {"objectId", "createdAt", "updatedAt", "ACL", "pushType", "active"}
DEFAULT_PROVIDER = {"android": "fcm", "ios": "apns", "web": "webpush"}
PUSH_TYPES = {"gcm": "fcm", "fcm": "fcm", "apn": "apns", "apns": "apns", "webpush": "webpush"}
# What app-defined fields are queried with (untyped sub-fields: no geo, text or containedBy).
CUSTOM_OPERATORS = frozenset(
    {"$in", "$nin", "$all", "$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$exists", "$regex", "$options"}
    | {"$inQuery", "$notInQuery", "$select", "$dontSelect"}
)
CUSTOM_OPS = {"Delete": "unset", "Increment": "increment", "Add": "add", "AddUnique": "add_unique", "Remove": "remove"}


def custom_name(key: Any) -> str:
    """The Basalt name of an app-defined installation key, or Parse error 105; a dotted key
    (`prefs.sound`, a key inside the field's object) keeps the part after its name as sent."""
    head, dot, rest = key.partition(".") if isinstance(key, str) else (key, "", "")
    native = names.encode(head)
    if head in RENDERED or native in custom.RESERVED:
        raise ParseError(INVALID_KEY_NAME, f"{str(head)[:40]} is reserved on installations.")
    if dot and not all(custom.nested_key_ok(part) for part in rest.split(".")):
        raise ParseError(INVALID_KEY_NAME, f"Invalid field name: {key[:80]}.")
    return native + dot + rest


def face_pointer(class_name: Any, object_id: Any) -> tuple[str, str]:
    """(collection, id) of a Pointer an app sends: its class's Basalt name and the same id."""
    if not isinstance(object_id, str):
        raise ParseError(INVALID_POINTER, "A Pointer needs an objectId.")
    return names.encode_class(class_name), object_id


def value_to_custom(value: Any, pointer: Callable[[Any, Any], tuple[str, str]] = face_pointer, depth: int = 0) -> Any:
    """A Parse value as a custom field stores it: Date kept tagged, Pointer as collection + id.

    `pointer(className, objectId)` maps a Pointer: the face keeps the id (`face_pointer`), the
    Parse import gives the imported object's (operations/parse_import)."""
    if depth > custom.MAX_DEPTH + 1:
        raise ParseError(INCORRECT_TYPE, f"Custom values nest at most {custom.MAX_DEPTH} levels.")
    if isinstance(value, list):
        return [value_to_custom(item, pointer, depth + 1) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__type")
    if kind in ("Pointer", "Object"):
        collection, ident = pointer(value.get("className"), value.get("objectId"))
        return {"__type": "Pointer", "collection": collection, "id": ident}
    if kind == "Date":
        return {"__type": "Date", "iso": value.get("iso")}
    if kind == "GeoPoint":  # checked by push/custom.py (finite, within range), as Basalt's geopoints
        return {"__type": "GeoPoint", "lat": value.get("latitude"), "lng": value.get("longitude")}
    if kind == "Bytes":
        return {"__type": "Bytes", "base64": value.get("base64")}
    if kind == "File":  # the file's id is in the name the server gave it (codec.file_name)
        return {"__type": "File", "id": codec.file_id(value)}
    if kind is not None:
        raise ParseError(INCORRECT_TYPE, f"Installations keep {str(kind)[:40]} values only in Basalt's own fields.")
    return {key: value_to_custom(item, pointer, depth + 1) for key, item in value.items()}


def value_from_custom(value: Any, depth: int = 0) -> Any:
    """A stored custom value as Parse encodes it (the inverse of `value_to_custom`)."""
    if isinstance(value, list):
        return [value_from_custom(item, depth + 1) for item in value]
    if not isinstance(value, dict) or depth > custom.MAX_DEPTH + 1:
        return value
    kind = value.get("__type")
    if kind == "Pointer":
        return {"__type": "Pointer", "className": names.decode_class(value["collection"]), "objectId": value["id"]}
    if kind == "GeoPoint":
        return {"__type": "GeoPoint", "latitude": value.get("lat"), "longitude": value.get("lng")}
    if kind == "File":
        url = codec.base_url() + content_url(value["id"])  # its own access rule applies when fetched
        return {"__type": "File", "name": codec.file_name(value["id"], value.get("name", "file")), "url": url}
    if kind in ("Date", "Bytes"):
        return value
    return {key: value_from_custom(item, depth + 1) for key, item in value.items()}


def _custom_change(value: Any) -> Any:
    if isinstance(value, dict) and "__op" in value:
        kind = CUSTOM_OPS.get(value["__op"]) if isinstance(value["__op"], str) else None
        if kind is None:
            raise ParseError(INVALID_JSON, f"bad op {str(value['__op'])[:40]}")
        if kind == "unset":
            return {"__op": "unset"}
        if kind == "increment":
            return {"__op": "increment", "by": value.get("amount", 1)}
        objects = value.get("objects")
        if not isinstance(objects, list):
            raise ParseError(INVALID_JSON, "objects to add must be an array")
        return {"__op": kind, "items": [value_to_custom(item) for item in objects]}
    return value_to_custom(value)


def _user(value: Any) -> str | None:
    """`user`: a Pointer to a _User, null, or Delete."""
    if value is None or (isinstance(value, dict) and value.get("__op") == "Delete"):
        return None
    if (
        isinstance(value, dict)
        and value.get("__type") in ("Pointer", "Object")
        and value.get("className") == "_User"
        and isinstance(value.get("objectId"), str)
    ):
        return value["objectId"]
    raise ParseError(INCORRECT_TYPE, "user must be a Pointer to _User.")


def _channels_op(value: dict[str, Any]) -> dict[str, Any]:
    """`installation.addUnique("channels", "news")` and friends, as the installations service takes them."""
    op = value.get("__op")
    kind = CUSTOM_OPS.get(op) if isinstance(op, str) else None
    if kind not in ("add", "add_unique", "remove"):
        raise ParseError(INVALID_JSON, "channels takes a list or an Add, AddUnique or Remove operation.")
    if not isinstance(value.get("objects"), list):
        raise ParseError(INVALID_JSON, "objects to add must be an array")
    return {"__op": kind, "items": value["objects"]}


def _to_native(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if key in IGNORED:
            continue
        if key == "user":
            out["user"] = _user(value)
            continue
        if key not in FIELDS:
            fields[custom_name(key)] = _custom_change(value)
            continue
        if key == "channels" and isinstance(value, dict):
            value = _channels_op(value)
        out[FIELDS[key]] = value
    if fields:
        out["custom"] = fields
    push_type = body.get("pushType")
    platform = out.get("platform")
    if creating or "token" in out:
        provider = PUSH_TYPES.get(push_type) if isinstance(push_type, str) else None
        provider = provider or (DEFAULT_PROVIDER.get(platform) if isinstance(platform, str) else None)
        if provider:
            out["provider"] = provider
    if creating and "token" not in out:
        raise ParseError(135, "deviceToken must be specified for this platform.")
    return out


def _out(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"objectId": doc["id"], "createdAt": doc["created_at"], "updatedAt": doc["updated_at"]}
    for native, value in (doc.get("custom") or {}).items():
        out[names.decode(native)] = value_from_custom(value)
    for native, value in doc.items():
        if native == "user" and isinstance(value, str):
            out["user"] = {"__type": "Pointer", "className": "_User", "objectId": value}
        elif native in PARSE_FIELDS:
            out[PARSE_FIELDS[native]] = value
        elif native in ("provider", "active"):
            out[{"provider": "pushType", "active": "active"}[native]] = value
    return out


def create_installation(req: ParseRequest) -> tuple[dict[str, Any], dict[str, str]]:
    doc, created = installations.register(req.caller, _to_native(req.data, True))
    body = {"objectId": doc["id"], "createdAt": doc["created_at"]}
    if not created:
        return body, {"X-Basalt-Existing": "true"}  # the device was known: Parse answers 200 then
    return body, {"Location": f"/parse/installations/{doc['id']}"}


def get_installation(req: ParseRequest, object_id: str) -> dict[str, Any]:
    return _out(installations.get_installation(req.caller, object_id, device=req.installation_id))


def update_installation(req: ParseRequest, object_id: str) -> dict[str, Any]:
    native = _to_native(req.data, False)
    # The SDK sends the device's installationId with every request: it proves an ownerless
    # installation is this device's, which a signed-in app then claims (`user`: itself).
    doc = installations.update_installation(req.caller, object_id, native, device=req.installation_id)
    answer: dict[str, Any] = {"updatedAt": doc["updated_at"]}
    if isinstance(native.get("channels"), dict):  # an operation: Parse answers the list it left
        answer["channels"] = doc.get("channels")
    stored = doc.get("custom") or {}
    for name, change in (native.get("custom") or {}).items():
        if isinstance(change, dict) and change.get("__op") in ("increment", "add", "add_unique", "remove"):
            # Parse answers operation results, a dotted key's nested in its object (`{"stats": {"n": 2}}`)
            head, *path = name.split(".")
            field = names.decode(head)
            objects.expand_on_path(answer, [field, *path], {field: value_from_custom(stored.get(head))})
    return answer


def delete_installation(req: ParseRequest, object_id: str) -> dict[str, Any]:
    installations.delete_installation(req.caller, object_id)
    return {}


def find_installations(req: ParseRequest) -> dict[str, Any]:
    params: dict[str, Any] = {}
    where = _where(req, req.params.get("where"))
    if where:
        params["where"] = where
    limit = req.params.get("limit")
    if limit not in (None, ""):
        params["limit"] = queries._int(limit, 100, "limit")
    result = installations.list_installations(req.caller, params)
    return {"results": [_out(doc) for doc in result["results"]]}


def _where(req: ParseRequest, raw: Any) -> dict[str, Any] | None:
    """A Parse `where` over installations in Basalt's field names (operators as for objects)."""
    where = queries._json(raw, "where") if raw not in (None, "") else None
    if not where:
        return None
    if not isinstance(where, dict):
        raise ParseError(102, "where must be an object.")
    return InstallationWhere(req.caller, installations.schema_of(req.caller)).where(where)


class InstallationWhere(queries.Translator):
    """Parse's installation keys onto the built-in fields, every other key onto `custom.<name>`.

    Sub-queries (`user: {$inQuery: {className: "_User", …}}`) run as the caller, as for objects.
    Custom Dates compare by their stored UTC text (`custom.x.iso`), custom Pointers by id
    (`custom.x.id`); a plain value also matches an array that holds it, as Parse does."""

    def field(self, key: str) -> tuple[str, str | None, dict[str, Any]]:
        native = FIELDS.get(key) or {"pushType": "provider", "active": "active"}.get(key)
        if native is not None:
            field_type, options = self.schema.fields[native]
            return native, field_type.name, options
        if key in ("objectId", "createdAt", "updatedAt"):
            return super().field(key)
        head, dot, rest = key.partition(".")
        return f"custom.{custom_name(head)}{dot}{rest}", None, {}

    def constraint(self, key: str, value: Any) -> dict[str, Any]:
        if key == "pushType":
            value = _push_types(value)
        path, _type, _options = self.field(key)
        if not path.startswith("custom."):
            return super().constraint(key, value)
        if not queries.has_operators(value):
            suffix, operand = _custom_operand(value)
            if suffix:
                return {path + suffix: operand}
            if isinstance(operand, dict | list):
                raise ParseError(102, f"{str(key)[:40]}: compare a sub-field, not a whole object or array.")
            return {"$or": [{path: operand}, {path: {"$all": [operand]}}]}
        # The object operators (queries.Translator.operators), with Dates and Pointers compared
        # by the sub-field they are stored under; all of one key's operands must agree on it.
        suffixes: set[str] = {".id"} if {"$inQuery", "$notInQuery"} & set(value) else set()

        def convert(op: str, operand: Any) -> Any:
            if op == "$exists":
                return operand
            if op not in ("$in", "$nin", "$all"):
                suffix, native = _custom_operand(operand)
                suffixes.update({suffix} - {""})
                return native
            if not isinstance(operand, list):
                raise ParseError(102, f"bad {op} value")
            converted = [_custom_operand(item) for item in operand]
            suffixes.update(suffix for suffix, _ in converted if suffix)
            return [item for _, item in converted]

        ops = self.operators(value, convert, CUSTOM_OPERATORS)
        if len(suffixes) > 1:
            raise ParseError(102, f"{str(key)[:40]}: compare Dates with Dates and Pointers with Pointers.")
        return {path + (suffixes.pop() if suffixes else ""): ops}


def _push_types(value: Any) -> Any:
    """Parse's pushType values (`gcm`, `apn`) as Basalt's providers, in a value or its operators."""
    if isinstance(value, str):
        return PUSH_TYPES.get(value, value)
    if isinstance(value, list):
        return [_push_types(item) for item in value]
    if isinstance(value, dict):
        return {op: _push_types(operand) for op, operand in value.items()}
    return value


def _custom_operand(value: Any) -> tuple[str, Any]:
    """(path suffix, operand) for one Parse query value against a custom field."""
    if isinstance(value, dict) and value.get("__type") == "Date":
        try:
            return ".iso", custom.normal_date(value.get("iso"), "where")
        except ValidationFailed:
            raise ParseError(102, "A Date needs iso.") from None
    if isinstance(value, dict) and value.get("__type") in ("Pointer", "Object"):
        if not isinstance(value.get("objectId"), str):
            raise ParseError(102, "A Pointer needs an objectId.")
        return ".id", value["objectId"]
    if isinstance(value, dict) and "__type" in value:
        raise ParseError(102, f"App-defined installation fields compare no {str(value['__type'])[:40]} values.")
    return "", value


def send(req: ParseRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """POST /push (master key): channels or where, data with alert/title/badge → a Basalt push."""
    body = req.data
    audience: dict[str, Any] = {}
    if "channels" in body:
        audience["channels"] = body["channels"]
    if "where" in body:
        where = _where(req, body["where"])
        audience["where"] = where or {}
    data = body.get("data")
    if not isinstance(data, dict):
        raise ParseError(INVALID_JSON, "Missing data for push.")
    data = dict(data)
    native: dict[str, Any] = {"audience": audience}
    notification = {}
    if isinstance(data.get("title"), str):
        notification["title"] = data.pop("title")
    if isinstance(data.get("alert"), str):
        notification["body"] = data.pop("alert")
    if notification:
        native["notification"] = notification
    badge = data.pop("badge", None)
    if badge is not None:
        native["badge"] = "increment" if badge == "Increment" else badge
    data.pop("sound", None)
    if data:
        native["data"] = data
    for parse_key, native_key in (("push_time", "send_at"), ("expiration_time", "expires_at")):
        if parse_key in body:
            value = body[parse_key]
            native[native_key] = value.get("iso") if isinstance(value, dict) else value
    answer, _status = services.send_push(req.caller, native)
    # Parse SDKs read only exposed headers (Parse Server exposes these two on every answer).
    return {"result": True}, {
        "X-Parse-Push-Status-Id": str(answer.get("id", "")),
        "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
    }

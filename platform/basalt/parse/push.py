"""Parse installations and push over Basalt's push area (API.md §7)."""

from __future__ import annotations

from typing import Any

from basalt.parse import queries
from basalt.parse.errors import INVALID_JSON, ParseError
from basalt.parse.request import ParseRequest
from basalt.push import installations, services

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
# Keys Parse SDKs send that Basalt has no use for (the device is identified by its token).
IGNORED = frozenset(
    {
        "installationId",
        "appIdentifier",
        "appName",
        "parseVersion",
        "GCMSenderId",
        "pushType",
        "ACL",
        "objectId",
        "createdAt",
        "updatedAt",
    }
)
DEFAULT_PROVIDER = {"android": "fcm", "ios": "apns", "web": "webpush"}
PUSH_TYPES = {"gcm": "fcm", "fcm": "fcm", "apn": "apns", "apns": "apns", "webpush": "webpush"}


def _to_native(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in IGNORED:
            continue
        if key not in FIELDS or key == "user":
            raise ParseError(INVALID_JSON, f"Installations do not store {str(key)[:40]} in Basalt.")
        if key == "channels" and isinstance(value, dict) and value.get("__op") in ("Add", "AddUnique", "Remove"):
            raise ParseError(INVALID_JSON, "Send the whole channels list.")
        out[FIELDS[key]] = value
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
    return _out(installations.get_installation(req.caller, object_id))


def update_installation(req: ParseRequest, object_id: str) -> dict[str, Any]:
    doc = installations.update_installation(req.caller, object_id, _to_native(req.data, False))
    return {"updatedAt": doc["updated_at"]}


def delete_installation(req: ParseRequest, object_id: str) -> dict[str, Any]:
    installations.delete_installation(req.caller, object_id)
    return {}


def find_installations(req: ParseRequest) -> dict[str, Any]:
    params: dict[str, Any] = {}
    where = _where(req.params.get("where"))
    if where:
        params["where"] = where
    limit = req.params.get("limit")
    if limit not in (None, ""):
        params["limit"] = queries._int(limit, 100, "limit")
    result = installations.list_installations(req.caller, params)
    return {"results": [_out(doc) for doc in result["results"]]}


def _where(raw: Any) -> dict[str, Any] | None:
    """A Parse `where` over installations in Basalt's field names (operators as for objects)."""
    where = queries._json(raw, "where") if raw not in (None, "") else None
    if not where:
        return None
    if not isinstance(where, dict):
        raise ParseError(102, "where must be an object.")
    return _rename(where)


def _rename(where: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in where.items():
        if key in ("$or", "$and", "$nor") and isinstance(value, list):
            out[key] = [_rename(v) if isinstance(v, dict) else v for v in value]
        elif key in FIELDS:
            if key == "user" and isinstance(value, dict) and value.get("__type") == "Pointer":
                value = value.get("objectId")
            if key == "channels" and not isinstance(value, dict):
                value = {"$contains": value}
            elif isinstance(value, dict) and "$in" in value and key == "channels":
                value = {"$all": value["$in"]} if len(value["$in"]) == 1 else value
            out[FIELDS[key]] = value
        else:
            raise ParseError(102, f"Installations cannot be queried by {str(key)[:40]} here.")
    return out


def send(req: ParseRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """POST /push (master key): channels or where, data with alert/title/badge → a Basalt push."""
    body = req.data
    audience: dict[str, Any] = {}
    if "channels" in body:
        audience["channels"] = body["channels"]
    if "where" in body:
        where = _where(body["where"])
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
    return {"result": True}, {"X-Parse-Push-Status-Id": str(answer.get("id", ""))}

"""OpenAPI 3.1 fragment for the push and installations routes (API.md §7), for the platform and
per-project documents (contributed through `documents.openapi.FRAGMENTS`).

Request bodies name exactly the keys the services accept (`additionalProperties: false` where an
unknown key is a 400) and take `null` where the service reads null as "not given", so the schema
fuzzer's "schema-invalid input is refused" holds. Uses the `Error` component and the `apiKey` /
`bearer` schemes of the documents area's builder.
"""

from __future__ import annotations

from typing import Any

from basalt.push.audience import MAX_CHANNELS as MAX_AUDIENCE_CHANNELS
from basalt.push.audience import MAX_USERS
from basalt.push.builtin import PLATFORMS, PROVIDERS
from basalt.push.installations import CHANNEL_OPS, MAX_CHANNELS
from basalt.push.message import PRIORITIES, TEXT_LIMIT
from basalt.push.models import Push
from basalt.push.services import COUNT_KEYS, LIST_LIMIT

ERROR = {"$ref": "#/components/schemas/Error"}
SECRET = [{"apiKey": []}]
SECURITY = [{"apiKey": []}, {"apiKey": [], "bearer": []}]
SEGMENT = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^/]+$"}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "Error", "content": {"application/json": {"schema": ERROR}}} for s in statuses}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": SEGMENT}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def fragment() -> tuple[dict[str, Any], dict[str, Any]]:
    return paths(), components()


def paths() -> dict[str, Any]:
    return {
        "/api/v1/installations": {
            "post": {
                "operationId": "registerInstallation",
                "tags": ["push"],
                "description": "Register a device (upsert by token); a signed-in caller's user is linked.",
                "security": SECURITY,
                "requestBody": {"required": True, **_json(_ref("InstallationCreate"))},
                "responses": {
                    "200": {"description": "Already registered: updated", **_json(_ref("Installation"))},
                    "201": {"description": "Registered", **_json(_ref("Installation"))},
                    **_errors(400, 401, 403, 409),
                },
            },
            "get": {
                "operationId": "listInstallations",
                "tags": ["push"],
                "description": "All installations (secret key, with find's where/order/cursor) or the user's own.",
                "security": SECURITY,
                "parameters": [
                    {"name": "where", "in": "query", "schema": {"type": "string"}, "description": "JSON, as find"},
                    {"name": "order", "in": "query", "schema": {"type": "string"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 1000}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "count", "in": "query", "schema": {"type": "string", "enum": ["true", "false"]}},
                ],
                "responses": {
                    "200": {"description": "A page of installations", **_json(_ref("InstallationPage"))},
                    **_errors(400, 401, 403),
                },
            },
        },
        "/api/v1/installations/{installation_id}": {
            "parameters": [_path_param("installation_id")],
            "get": {
                "operationId": "getInstallation",
                "tags": ["push"],
                "security": SECURITY,
                "responses": {"200": {"description": "The installation", **_json(_ref("Installation"))}}
                | _errors(401, 403, 404),
            },
            "patch": {
                "operationId": "updateInstallation",
                "tags": ["push"],
                "description": (
                    "The linked user or the secret key; an installation with no user also the device itself "
                    "(it holds the id), which claims it when signed in by setting `user` to itself. Another "
                    "user's installation answers 404, as a missing one."
                ),
                "security": SECURITY,
                "requestBody": {"required": True, **_json(_ref("InstallationUpdate"))},
                "responses": {"200": {"description": "Updated", **_json(_ref("Installation"))}}
                | _errors(400, 401, 403, 404, 409),
            },
            "delete": {
                "operationId": "deleteInstallation",
                "tags": ["push"],
                "security": SECURITY,
                "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404)},
            },
        },
        "/api/v1/push": {
            "post": {
                "operationId": "sendPush",
                "tags": ["push"],
                "description": "Send (or schedule) a push; `dry_run` counts the audience and writes nothing.",
                "security": SECRET,
                "requestBody": {"required": True, **_json(_ref("PushRequest"))},
                "responses": {
                    "200": {"description": "Dry run: the audience", **_json(_ref("PushAudienceCount"))},
                    "202": {"description": "Accepted", **_json(_ref("PushAccepted"))},
                    **_errors(400, 401, 403),
                },
            },
            "get": {
                "operationId": "listPushes",
                "tags": ["push"],
                "security": SECRET,
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": LIST_LIMIT},
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": [value for value, _ in Push.STATUSES]},
                    },
                ],
                "responses": {
                    "200": {"description": "Pushes, newest first", **_json(_ref("PushPage"))},
                    **_errors(400, 401, 403),
                },
            },
        },
        "/api/v1/push/vapid-public-key": {
            "get": {
                "operationId": "getVapidPublicKey",
                "tags": ["push"],
                "description": "The VAPID public key web clients pass to `pushManager.subscribe`.",
                "security": SECURITY,
                "responses": {
                    "200": {
                        "description": "The key",
                        **_json(
                            {
                                "type": "object",
                                "properties": {"public_key": {"type": "string"}},
                                "required": ["public_key"],
                            }
                        ),
                    },
                    **_errors(401, 404),
                },
            }
        },
        "/api/v1/push/audience": {
            "post": {
                "operationId": "countPushAudience",
                "tags": ["push"],
                "description": "How many active installations an audience reaches, per provider.",
                "security": SECRET,
                "requestBody": {
                    "required": True,
                    **_json({"type": "object", "properties": {"audience": _ref("PushAudience")}}),
                },
                "responses": {
                    "200": {"description": "The count", **_json(_ref("PushAudienceCount"))},
                    **_errors(400, 401, 403),
                },
            }
        },
        "/api/v1/push/{push_id}": {
            "parameters": [_path_param("push_id")],
            "get": {
                "operationId": "getPush",
                "tags": ["push"],
                "security": SECRET,
                "responses": {"200": {"description": "The push and its counts", **_json(_ref("Push"))}}
                | _errors(401, 403, 404),
            },
            "delete": {
                "operationId": "cancelPush",
                "tags": ["push"],
                "description": "Cancel what is not sent yet; the push stays readable (status `cancelled`).",
                "security": SECRET,
                "responses": {"200": {"description": "Cancelled", **_json(_ref("Push"))}} | _errors(401, 403, 404, 409),
            },
        },
    }


def _texts() -> dict[str, Any]:
    text = {"type": "string", "maxLength": TEXT_LIMIT}
    return {
        "type": "object",
        "properties": {"title": text, "body": text, "image": text},
        "additionalProperties": False,
    }


def _channels_change() -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "array", "maxItems": MAX_CHANNELS, "items": {"type": "string"}},
            {
                "type": "object",
                "description": "Subscribe or unsubscribe without sending the whole list.",
                "properties": {
                    "__op": {"enum": sorted(CHANNEL_OPS)},
                    "items": {"type": "array", "maxItems": MAX_CHANNELS, "items": {"type": "string"}},
                },
                "required": ["__op", "items"],
                "additionalProperties": False,
            },
        ]
    }


def _installation_fields() -> dict[str, Any]:
    return {
        "platform": {"type": "string", "enum": list(PLATFORMS)},
        "provider": {"type": "string", "enum": list(PROVIDERS)},
        "token": {"type": "string", "minLength": 1, "maxLength": 2048},
        "channels": {"type": "array", "maxItems": MAX_CHANNELS, "items": {"type": "string"}},
        "locale": {"type": "string"},
        "timezone": {"type": "string"},
        "app_version": {"type": "string", "maxLength": 64},
        "badge": {"type": "integer", "minimum": 0, "maximum": 99999},
        "custom": {
            "type": "object",
            "description": (
                "App-defined fields, merged into the stored ones: a value sets a key, null or "
                '{"__op": "unset"} removes it, {"__op": "increment", "by": n} and add / add_unique / remove '
                "(items) change it; a dotted key (prefs.sound) does so inside the key's object. Names "
                "[a-z][a-z0-9_]*, at most 64 keys and 8192 bytes of JSON; values are JSON, "
                '{"__type": "Date", "iso"}, {"__type": "Pointer", "collection", "id"}, {"__type": "GeoPoint", '
                '"lat", "lng"}, {"__type": "Bytes", "base64"} or {"__type": "File", "id"} (a ready file).'
            ),
            "maxProperties": 256,
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]{0,62}(\\.[^.$\\u0000-\\u001f]{1,64}){0,5}$"},
        },
    }


def components() -> dict[str, Any]:
    counts = {name: {"type": "integer", "minimum": 0} for name in COUNT_KEYS}
    return {
        "Installation": {
            "type": "object",
            "description": "A registered device; `token` only to the linked user and the secret key.",
            "properties": {
                "id": {"type": "string"},
                "created_at": {"type": "string"},
                "updated_at": {"type": "string"},
                "acl": {"type": "object"},
                **_installation_fields(),
                "badge": {"type": "number"},
                "user": {"type": ["string", "null"]},
                "active": {"type": "boolean"},
            },
            "required": ["id", "created_at", "updated_at"],
        },
        "InstallationCreate": {
            "type": "object",
            "properties": {
                **_installation_fields(),
                "channels": _channels_change(),
                "user": {"type": ["string", "null"], "description": "secret key: any user; a client: only itself"},
            },
            "required": ["platform", "provider", "token"],
            "additionalProperties": False,
        },
        "InstallationUpdate": {
            "type": "object",
            "properties": {
                **_installation_fields(),
                "channels": _channels_change(),
                "user": {
                    "type": ["string", "null"],
                    "description": (
                        "secret key: any user or null; the device's own user: itself or null (unlink); "
                        "a signed-in caller on an installation with no user: itself (claims the device)"
                    ),
                },
            },
            "additionalProperties": False,
        },
        "InstallationPage": {
            "type": "object",
            "properties": {
                "results": {"type": "array", "items": _ref("Installation")},
                "next_cursor": {"type": ["string", "null"]},
                "count": {"type": "integer"},
            },
            "required": ["results", "next_cursor"],
        },
        "PushAudience": {
            "type": "object",
            "description": "Combined with AND; `{}` is every active installation.",
            "properties": {
                "where": _nullable({"type": "object"}),
                "channels": _nullable(
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_AUDIENCE_CHANNELS,
                        "items": {"type": "string", "minLength": 1, "maxLength": 64},
                    }
                ),
                "users": _nullable(
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_USERS,
                        "items": {"type": "string", "minLength": 1, "maxLength": 64},
                    }
                ),
            },
            "additionalProperties": False,
        },
        "PushRequest": {
            "type": "object",
            "properties": {
                "audience": _ref("PushAudience"),
                "notification": _nullable(_texts()),
                "data": _nullable({"type": "object"}),
                "localized": _nullable({"type": "object", "additionalProperties": _texts(), "maxProperties": 100}),
                "badge": _nullable(
                    {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 99999}, {"const": "increment"}]}
                ),
                "collapse_key": _nullable({"type": "string", "minLength": 1, "maxLength": 64}),
                "priority": {"type": "string", "enum": list(PRIORITIES)},
                "send_at": _nullable({"type": "string", "format": "date-time"}),
                "expires_at": _nullable({"type": "string", "format": "date-time"}),
                "local_time": {"type": "boolean"},
                "dry_run": {"type": "boolean"},
            },
            "required": ["audience"],
            "additionalProperties": False,
        },
        "PushAccepted": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "status": {"type": "string"}},
            "required": ["id", "status"],
        },
        "PushAudienceCount": {
            "type": "object",
            "properties": {
                "targeted": {"type": "integer", "minimum": 0},
                "providers": {"type": "object", "additionalProperties": {"type": "integer"}},
                "configured": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["targeted", "providers"],
        },
        "PushCounts": {
            "type": "object",
            "properties": {
                **counts,
                "providers": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "properties": counts},
                },
            },
            "required": [*COUNT_KEYS, "providers"],
        },
        "Push": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": [value for value, _ in Push.STATUSES]},
                # A $ref, not an inline object: a generated client would name that `PushAudience` too.
                "audience": _ref("PushAudience"),
                "notification": {"type": ["object", "null"]},
                "data": {"type": ["object", "null"]},
                "localized": {"type": ["object", "null"]},
                "badge": {"type": ["integer", "string", "null"]},
                "collapse_key": {"type": ["string", "null"]},
                "priority": {"type": ["string", "null"]},
                "send_at": {"type": ["string", "null"]},
                "local_time": {"type": "boolean"},
                "expires_at": {"type": ["string", "null"]},
                "error": {"type": ["string", "null"]},
                "created_at": {"type": "string"},
                "finished_at": {"type": ["string", "null"]},
                "counts": _ref("PushCounts"),
            },
            "required": ["id", "status", "created_at"],
        },
        "PushPage": {
            "type": "object",
            "properties": {
                "results": {"type": "array", "items": _ref("Push")},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["results", "next_cursor"],
        },
    }

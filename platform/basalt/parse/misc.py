"""Config, server info, schemas and files of the Parse face."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from basalt.documents import catalog
from basalt.documents.cache import project_schemas
from basalt.files import services as files
from basalt.files.services import content_url
from basalt.parse import codec, names
from basalt.parse.errors import INVALID_CLASS_NAME, INVALID_FILE_NAME, OPERATION_FORBIDDEN, ParseError
from basalt.parse.request import ParseRequest, decode
from basalt.projects.project_settings import update_settings

PARSE_TYPES = {
    "string": "String",
    "number": "Number",
    "boolean": "Boolean",
    "date": "Date",
    "object": "Object",
    "array": "Array",
    "pointer": "Pointer",
    "relation": "Relation",
    "file": "File",
    "geopoint": "GeoPoint",
}
BASALT_TYPES = {parse: native for native, parse in PARSE_TYPES.items()}
# Parse's CLP operations → Basalt's collection permissions.
CLP_OPS = {"get": "get", "find": "find", "count": "count", "create": "create", "update": "update", "delete": "delete"}


def _master(req: ParseRequest) -> None:
    if not req.caller.is_secret:
        raise ParseError(OPERATION_FORBIDDEN, "unauthorized: master key is required")


def _config(req: ParseRequest) -> dict[str, Any]:
    section = (req.caller.project.settings or {}).get("parse")
    config = section.get("config") if isinstance(section, dict) else None
    return config if isinstance(config, dict) else {}


def get_config(req: ParseRequest) -> dict[str, Any]:
    return {"params": _config(req), "masterKeyOnly": {}}


def put_config(req: ParseRequest) -> dict[str, Any]:
    _master(req)
    params = req.data.get("params")
    if not isinstance(params, dict):
        raise ParseError(107, "params must be an object")
    merged = {**_config(req), **params}
    merged = {
        k: v for k, v in merged.items() if v is not None and not (isinstance(v, dict) and v.get("__op") == "Delete")
    }
    with transaction.atomic():
        update_settings(req.caller.project, {"parse": {"config": merged}})
    return {"result": True}


def server_info(req: ParseRequest) -> dict[str, Any]:
    _master(req)
    return {
        "parseServerVersion": "basalt",
        "features": {
            "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
            "hooks": {"create": False, "read": False, "update": False, "delete": False},
            "cloudCode": {"jobs": False},
            "logs": {"level": False, "size": False, "order": False, "until": False, "from": False},
            "push": {"immediatePush": False, "scheduledPush": False, "storedPushData": False},
            "schemas": {
                "addField": True,
                "removeField": True,
                "addClass": True,
                "removeClass": True,
                "clearAllDataFromClass": False,
                "exportClass": False,
                "editClassLevelPermissions": True,
            },
        },
    }


def _schema_out(collection: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "objectId": {"type": "String"},
        "createdAt": {"type": "Date"},
        "updatedAt": {"type": "Date"},
        "ACL": {"type": "ACL"},
    }
    for name, definition in collection["fields"].items():
        out: dict[str, Any] = {"type": PARSE_TYPES.get(definition["type"], "Object")}
        if "to" in definition and definition["type"] in ("pointer", "relation"):
            out["targetClass"] = names.decode_class(definition["to"])
        if definition.get("required"):
            out["required"] = True
        if "default" in definition:
            out["defaultValue"] = definition["default"]
        fields[names.decode(name)] = out
    permissions = collection.get("permissions") or {}
    clp: dict[str, Any] = {}
    for op in CLP_OPS:
        clp[op] = {_principal_out(p): True for p in permissions.get(op, [])}
    clp["addField"] = {}
    clp["protectedFields"] = {
        _principal_out(k): [names.decode(f) for f in v] for k, v in (collection.get("protected_fields") or {}).items()
    }
    indexes = {"_id_": {"_id": 1}}
    for index in collection.get("indexes") or []:
        key = "_".join(f.lstrip("-") for f in index["fields"])
        indexes[key] = {names.decode(f.lstrip("-")): (-1 if f.startswith("-") else 1) for f in index["fields"]}
    return {
        "className": names.decode_class(collection["name"]),
        "fields": fields,
        "classLevelPermissions": clp,
        "indexes": indexes,
    }


def _principal_out(principal: str) -> str:
    if principal == "authenticated":
        return "requiresAuthentication"
    if principal.startswith("role:"):
        return "role:" + names.decode_role(principal[5:])
    if principal.startswith("pointer:"):
        return principal  # read back through pointerFields below? kept verbatim
    return principal


def _principal_in(principal: Any) -> str:
    if principal == "requiresAuthentication":
        return "authenticated"
    if isinstance(principal, str) and principal.startswith("role:"):
        return "role:" + names.encode_role(principal[5:])
    if not isinstance(principal, str):
        raise ParseError(107, "Invalid class level permission.")
    return principal


def _fields_in(fields: Any) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise ParseError(107, "fields must be an object")
    out: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in names.SYSTEM_TO_NATIVE:
            continue
        native = names.encode(name)
        if isinstance(spec, dict) and spec.get("__op") == "Delete":
            out[native] = None
            continue
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or spec["type"] not in BASALT_TYPES:
            raise ParseError(
                111, f"invalid field type: {str(spec.get('type') if isinstance(spec, dict) else spec)[:40]}"
            )
        definition: dict[str, Any] = {"type": BASALT_TYPES[spec["type"]]}
        if definition["type"] in ("pointer", "relation"):
            definition["to"] = names.encode_class(spec.get("targetClass"))
        if spec.get("required") is True:
            definition["required"] = True
        if "defaultValue" in spec:
            definition["default"] = codec.to_native(spec["defaultValue"])
        out[native] = definition
    return out


def _indexes_in(indexes: Any) -> list[dict[str, Any]]:
    """Parse's `{"name": {"field": 1 | -1, ...}}` as native declarations; the catalog checks the
    fields and the count (the name is Parse's own label: native names its indexes itself)."""
    if not isinstance(indexes, dict):
        raise ParseError(107, "indexes must be an object")
    out = []
    for spec in indexes.values():
        if not isinstance(spec, dict) or not spec:
            raise ParseError(107, "an index must map field names to 1 or -1")
        fields = []
        for name, direction in spec.items():
            if isinstance(direction, bool) or direction not in (1, -1):
                raise ParseError(107, "an index must map field names to 1 or -1")
            fields.append(("-" if direction == -1 else "") + names.encode(name))
        out.append({"fields": fields})
    return out


def _clp_in(clp: Any) -> dict[str, Any]:
    if not isinstance(clp, dict):
        raise ParseError(107, "classLevelPermissions must be an object")
    out: dict[str, Any] = {}
    for op, native_op in CLP_OPS.items():
        if op in clp:
            grants = clp[op]
            if not isinstance(grants, dict):
                raise ParseError(107, f"classLevelPermissions.{op} must be an object")
            out[native_op] = [_principal_in(p) for p, allowed in grants.items() if allowed is True]
    return out


def list_schemas(req: ParseRequest) -> dict[str, Any]:
    _master(req)
    return {"results": [_schema_out(c) for c in catalog.list_collections(req.caller.project)]}


def get_schema(req: ParseRequest, class_name: str) -> dict[str, Any]:
    _master(req)
    native = names.encode_class(class_name)
    if native not in project_schemas(req.caller.project):
        raise ParseError(INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
    return _schema_out(catalog.describe(catalog.get_collection(req.caller.project, native)))


def create_schema(req: ParseRequest, class_name: str) -> dict[str, Any]:
    _master(req)
    body = req.data
    if body.get("className") not in (None, class_name):
        raise ParseError(INVALID_CLASS_NAME, "Class name mismatch between the body and the URL.")
    native = names.encode_class(class_name)
    if native in project_schemas(req.caller.project):
        raise ParseError(INVALID_CLASS_NAME, f"Class {class_name} already exists.")
    definition: dict[str, Any] = {"name": native, "fields": _fields_in(body.get("fields", {})), "default_acl": "public"}
    definition["permissions"] = (
        _clp_in(body["classLevelPermissions"])
        if "classLevelPermissions" in body
        else {op: ["*"] for op in CLP_OPS.values()}
    )
    if "indexes" in body:
        definition["indexes"] = _indexes_in(body["indexes"])
    return _schema_out(catalog.create_collection(req.caller.project, definition))


def update_schema(req: ParseRequest, class_name: str) -> dict[str, Any]:
    _master(req)
    body = req.data
    native = names.encode_class(class_name)
    if native not in project_schemas(req.caller.project):
        raise ParseError(INVALID_CLASS_NAME, f"Class {class_name} does not exist.")
    change: dict[str, Any] = {}
    if "fields" in body:
        change["fields"] = _fields_in(body["fields"])
    if "classLevelPermissions" in body:
        change["permissions"] = _clp_in(body["classLevelPermissions"])
    return _schema_out(catalog.update_collection(req.caller.project, native, change))


def delete_schema(req: ParseRequest, class_name: str) -> dict[str, Any]:
    _master(req)
    native = names.encode_class(class_name)
    if native in project_schemas(req.caller.project):
        catalog.delete_collection(req.caller.project, native)
    return {}


def files_entry(request: HttpRequest, name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    """POST /files/{name}: the raw body is the file (Parse's REST form); answer {name, url}.

    The JavaScript SDK sends JSON {base64, _ContentType, …} instead; both become a Basalt file."""
    if not name or "/" in name or len(name) > 128:
        raise ParseError(INVALID_FILE_NAME, "Filename contains invalid characters.")
    content_type = request.META.get("CONTENT_TYPE", "")
    if request.method == "DELETE":
        req = decode(request, "files/" + name)
        _master(req)
        files.delete_file(req.caller, codec.file_id({"name": name}))
        return {}, 200, {}
    if request.method != "POST":
        raise ParseError(107, "Files are created with POST.", 405)
    if content_type.startswith("text/plain") or content_type.startswith("application/json"):
        return _upload_js(request, name)
    req = decode(request, "files/" + name, raw_body=True)
    ingest = files.begin_upload(req.caller, name=name, declared_type=content_type, declared_length=None, acl=None)
    ingest.feed(request.body)
    row = ingest.finish()
    return _file_out(request, row), 201, {"Location": content_url(row.id)}


def _upload_js(request: HttpRequest, name: str) -> tuple[dict[str, Any], int, dict[str, str]]:
    import base64
    import binascii

    req = decode(request, "files/" + name)
    body = req.data
    data = body.get("base64")
    if not isinstance(data, str):
        raise ParseError(INVALID_FILE_NAME, "The file has no data.")
    try:
        raw = base64.b64decode(data.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise ParseError(107, "Invalid base64 file data.") from None
    declared = (
        body.get("_ContentType") or body.get("fileData", {}).get("type")
        if isinstance(body.get("fileData"), dict)
        else body.get("_ContentType")
    )
    ingest = files.begin_upload(
        req.caller,
        name=name,
        declared_type=declared if isinstance(declared, str) else "",
        declared_length=len(raw),
        acl=None,
    )
    ingest.feed(raw)
    row = ingest.finish()
    return _file_out(request, row), 201, {"Location": content_url(row.id)}


def _file_out(request: HttpRequest, row: Any) -> dict[str, Any]:
    return {"name": codec.file_name(row.id, row.name), "url": request.build_absolute_uri(content_url(row.id))}

"""OpenAPI 3.1 documents: the platform-wide one (committed in sdk/openapi/) and one per project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from basalt.documents.cache import Schema
from basalt.documents.fields.base import FieldType

ERROR = {"$ref": "#/components/schemas/Error"}
SYSTEM_PROPERTIES = {
    "id": {"type": "string", "readOnly": True},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
    "acl": {"$ref": "#/components/schemas/ACL"},
}
OPERATION_SCHEMA = {
    "type": "object",
    "properties": {
        "__op": {"enum": ["increment", "add", "add_unique", "remove", "unset", "add_relation", "remove_relation"]},
        "by": {"type": "number"},
        # Generators drop an array schema without `items` (and everything that refers to it).
        "items": {"type": "array", "items": {}},
        "ids": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["__op"],
}
# Query-string parameters of find, typed so generated clients and fuzzers send what the server parses.
FIND_PARAMETERS: dict[str, dict[str, Any]] = {
    "where": {"type": "string", "description": "a JSON `where` object"},
    "order": {"type": "string", "description": "comma list of fields, `-` for descending"},
    "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
    "cursor": {"type": "string"},
    "fields": {"type": "string", "description": "comma list of fields to return"},
    "expand": {"type": "string", "description": "comma list of pointer paths to expand"},
    "count": {"type": "boolean"},
}


def _error_responses(*statuses: int) -> dict[str, Any]:
    return {
        str(status): {"description": "Error", "content": {"application/json": {"schema": ERROR}}} for status in statuses
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _common_components() -> dict[str, Any]:
    return {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
                    "required": ["code", "message"],
                }
            },
            "required": ["error"],
        },
        "ACL": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"read": {"type": "boolean"}, "write": {"type": "boolean"}},
                "additionalProperties": False,
            },
        },
        "Query": {
            "type": "object",
            "properties": {
                "where": {"type": "object"},
                "order": {"type": "array", "items": {"type": "string"}},
                "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
                "cursor": {"type": ["string", "null"]},
                "fields": {"type": "array", "items": {"type": "string"}},
                "expand": {"type": "array", "items": {"type": "string"}},
                "count": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "Operation": OPERATION_SCHEMA,
        # What a create or update answers to a caller who may write the document but not read it.
        "WriteReceipt": {
            "type": "object",
            "properties": {k: SYSTEM_PROPERTIES[k] for k in ("id", "created_at", "updated_at")},
            "required": ["id", "updated_at"],
            "additionalProperties": False,
        },
        "Document": {"type": "object", "properties": dict(SYSTEM_PROPERTIES), "additionalProperties": True},
        "BatchRequest": {
            "type": "object",
            "properties": {
                "transaction": {"type": "boolean"},
                "requests": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 100,
                    "items": {
                        "type": "object",
                        "properties": {
                            "method": {"enum": ["GET", "POST", "PATCH", "DELETE"]},
                            "path": {"type": "string"},
                            "body": {},
                        },
                        "required": ["method", "path"],
                    },
                },
            },
            "required": ["requests"],
        },
        "BatchResponse": {
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"status": {"type": "integer"}, "body": {}}},
                }
            },
        },
    }


def _collection_paths(prefix: str, document_ref: str, input_ref: str, patch_ref: str, op_suffix: str) -> dict:
    list_schema = {
        "type": "object",
        "properties": {
            "results": {"type": "array", "items": {"$ref": document_ref}},
            "next_cursor": {"type": ["string", "null"]},
            "count": {"type": "integer"},
        },
        "required": ["results", "next_cursor"],
    }
    doc = _json({"$ref": document_ref})
    written = _json({"anyOf": [{"$ref": document_ref}, {"$ref": "#/components/schemas/WriteReceipt"}]})
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    query_params = [
        {"name": name, "in": "query", "required": False, "schema": schema} for name, schema in FIND_PARAMETERS.items()
    ]
    return {
        f"{prefix}/documents": {
            "get": {
                "operationId": f"find{op_suffix}",
                "parameters": query_params,
                "responses": {
                    "200": {"description": "A page", **_json(list_schema)},
                    **_error_responses(400, 401, 403),
                },
            },
            "post": {
                "operationId": f"create{op_suffix}",
                "requestBody": {"required": True, **_json({"$ref": input_ref})},
                "responses": {"201": {"description": "Created", **written}, **_error_responses(400, 401, 403, 409)},
            },
        },
        f"{prefix}/documents/{{id}}": {
            "parameters": [id_param],
            "get": {
                "operationId": f"get{op_suffix}",
                "parameters": [p for p in query_params if p["name"] in ("fields", "expand")],
                "responses": {
                    "200": {"description": "The document", **doc},
                    "304": {"description": "Not modified"},
                    **_error_responses(400, 401, 403, 404),
                },
            },
            "patch": {
                "operationId": f"update{op_suffix}",
                "requestBody": {"required": True, **_json({"$ref": patch_ref})},
                "responses": {
                    "200": {"description": "Updated", **written},
                    **_error_responses(400, 401, 403, 404, 409, 412),
                },
            },
            "delete": {
                "operationId": f"delete{op_suffix}",
                "responses": {"204": {"description": "Deleted"}, **_error_responses(401, 403, 404, 412)},
            },
        },
        f"{prefix}/query": {
            "post": {
                "operationId": f"query{op_suffix}",
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/Query"})},
                "responses": {
                    "200": {"description": "A page", **_json(list_schema)},
                    **_error_responses(400, 401, 403),
                },
            }
        },
    }


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_") if part) or "X"


def _component_bases(names: list[str], reserved: set[str]) -> dict[str, str]:
    """A unique schema-name stem per collection: `query`, `posts_create` or `a__b` must not overwrite another."""
    taken = set(reserved)
    bases: dict[str, str] = {}
    for name in sorted(names):
        stem = _pascal(name)
        base, n = stem, 1
        while {base, f"{base}Create", f"{base}Update"} & taken:
            n += 1
            base = f"{stem}{n}"
        taken |= {base, f"{base}Create", f"{base}Update"}
        bases[name] = base
    return bases


def _read_schema(field_type: FieldType, options: dict[str, Any], value_schema: dict, bases: dict[str, str]) -> dict:
    """A pointer reads as the target id, or as the target document when the request expands it."""
    if field_type.name != "pointer":
        return value_schema
    target = options.get("to")
    expanded = f"#/components/schemas/{bases[target] if target in bases else 'Document'}"
    return {"anyOf": [value_schema, {"$ref": expanded}]}


def _write_schema(field_type: FieldType, value_schema: dict[str, Any]) -> dict[str, Any]:
    """A file is written as the id of an uploaded file, although it reads as {id, name, url, …} to its readers."""
    if field_type.name == "file":
        return {"type": "string", "description": "id of an uploaded file"}
    return value_schema


def _collection_components(schema: Schema, bases: dict[str, str]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    required: list[str] = []
    for name, (field_type, options) in schema.fields.items():
        value_schema = field_type.json_schema(options)
        if options.get("description"):
            value_schema = {**value_schema, "description": options["description"]}
        if field_type.stored_in_data:
            properties[name] = _read_schema(field_type, options, value_schema, bases)
        inputs[name] = _write_schema(field_type, value_schema)
        if options.get("required") and "default" not in options:
            required.append(name)
    base = bases[schema.name]
    return {
        base: {
            "type": "object",
            "properties": {**SYSTEM_PROPERTIES, **properties},
            "required": ["id", "created_at", "updated_at", "acl"],
        },
        f"{base}Create": {
            "type": "object",
            "properties": {**inputs, "acl": {"$ref": "#/components/schemas/ACL"}},
            "required": required,
            "additionalProperties": False,
        },
        f"{base}Update": {
            "type": "object",
            "properties": {
                **{
                    # anyOf, not oneOf: an operation is also a valid value of an object field.
                    name: {"anyOf": [s, {"$ref": "#/components/schemas/Operation"}, {"type": "null"}]}
                    for name, s in inputs.items()
                },
                "acl": {"$ref": "#/components/schemas/ACL"},
            },
            "additionalProperties": False,
        },
    }


def _identity_fragment() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Identity's auth and roles routes (imported late: identity builds on this area, not the reverse)."""
    from basalt.identity import openapi as identity

    return identity.paths(), identity.components(), identity.security_schemes()


def _realtime_fragment() -> tuple[dict[str, Any], dict[str, Any]]:
    """Realtime's SSE routes (imported late, like identity's: realtime builds on this area)."""
    from basalt.realtime import openapi as realtime

    return realtime.paths(), realtime.components()


def _files_fragment() -> tuple[dict[str, Any], dict[str, Any]]:
    """The files routes (imported late, like identity's: files builds on this area)."""
    from basalt.files import openapi as files

    return files.paths(), files.components()


# Areas above this one contribute their routes here at start-up (`AppConfig.ready`): a function
# returning (paths, components). Appended after the built-in fragments, in registration order.
Fragment = Callable[[], tuple[dict[str, Any], dict[str, Any]]]
FRAGMENTS: list[Fragment] = []
# Areas that add to every operation of the finished document (operations: the Idempotency-Key
# header on the writes it applies to) register a function here; each edits the document in place.
Transform = Callable[[dict[str, Any]], None]
TRANSFORMS: list[Transform] = []


def build_document(schemas: list[Schema] | None = None, title: str = "Basalt data API") -> dict[str, Any]:
    """Without schemas: the generic platform document; with them: typed paths per collection."""
    identity_paths, identity_components, identity_schemes = _identity_fragment()
    realtime_paths, realtime_components = _realtime_fragment()
    files_paths, files_components = _files_fragment()
    contributed = [fragment() for fragment in FRAGMENTS]
    # Identity's, realtime's and files' names are reserved first: a collection such as `role` gets a fresh stem.
    components = {**identity_components, **realtime_components, **files_components}
    for _paths, fragment_components in contributed:
        components.update(fragment_components)
    components.update(_common_components())
    paths: dict[str, Any] = {}
    bases = _component_bases([schema.name for schema in schemas or []], set(components))
    for schema in sorted(schemas or [], key=lambda s: s.name):
        components.update(_collection_components(schema, bases))
        base = bases[schema.name]
        paths.update(
            _collection_paths(
                f"/api/v1/collections/{schema.name}",
                f"#/components/schemas/{base}",
                f"#/components/schemas/{base}Create",
                f"#/components/schemas/{base}Update",
                base,
            )
        )
    if not schemas:
        generic = "#/components/schemas/Document"
        paths.update(_collection_paths("/api/v1/collections/{collection}", generic, generic, generic, "Documents"))
        collection_param = {"name": "collection", "in": "path", "required": True, "schema": {"type": "string"}}
        for item in paths.values():
            item["parameters"] = [collection_param, *item.get("parameters", [])]
    paths.update(identity_paths)
    paths.update(realtime_paths)
    paths.update(files_paths)
    for fragment_paths, _components in contributed:
        paths.update(fragment_paths)
    paths["/api/v1/batch"] = {
        "post": {
            "operationId": "batch",
            "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/BatchRequest"})},
            "responses": {
                "200": {"description": "Results", **_json({"$ref": "#/components/schemas/BatchResponse"})},
                **_error_responses(400, 401, 403, 404, 409),
            },
        }
    }
    document = {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                **identity_schemes,
            },
        },
    }
    for transform in TRANSFORMS:
        transform(document)
    _document_url_limit(paths)
    return document


# Any operation can meet the URL limit (core.edge.MAX_URL_BYTES), whatever its parameters allow:
# a query value within its maxLength can still make the URL too long once percent-encoded.
URL_TOO_LONG = {
    "description": "URL too long: API.md's JSON error (`uri_too_long`); from 64 KiB on, the HTTP server's "
    "own 414 with no body (granian refuses it before any application runs)"
}


def _document_url_limit(paths: dict[str, Any]) -> None:
    for item in paths.values():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete") and isinstance(operation, dict):
                operation.setdefault("responses", {}).setdefault("414", URL_TOO_LONG)

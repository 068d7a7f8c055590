"""OpenAPI 3.1 fragment for the files routes (API.md §5), for the platform and per-project documents.

tus (/api/v1/files/tus…) speaks its own header protocol and has no useful OpenAPI form; the local
storage's signed PUT (/api/v1/files/uploads/{id}) is reached only through a ticket's `upload_url`.
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
FILE = {"$ref": "#/components/schemas/File"}
SECURITY = [{"apiKey": []}, {"apiKey": [], "bearer": []}]
FILE_ID = {
    "name": "file_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[a-z0-9]{1,32}$"},
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": "Error", "content": {"application/json": {"schema": ERROR}}} for s in statuses}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def paths() -> dict[str, Any]:
    return {
        "/api/v1/files": {
            "get": {
                "operationId": "listFiles",
                "tags": ["files"],
                "security": SECURITY,
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    {"name": "content_type", "in": "query", "schema": {"type": "string"}},
                    {"name": "created_after", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    {"name": "created_before", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                ],
                "responses": {
                    "200": {"description": "A page of files", **_json({"$ref": "#/components/schemas/FilePage"})},
                    **_errors(400, 401),
                },
            },
            "post": {
                "operationId": "uploadFile",
                "tags": ["files"],
                "description": "Streamed upload: a raw body (`?name=`) or multipart with a `file` part.",
                "security": SECURITY,
                "parameters": [{"name": "name", "in": "query", "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                                "required": ["file"],
                            }
                        },
                    },
                },
                # 411: a chunked body where the server cannot tell a cut one from a whole one (granian)
                "responses": {"201": {"description": "Stored", **_json(FILE)}, **_errors(400, 401, 403, 411, 413, 415)},
            },
        },
        "/api/v1/files/uploads": {
            "post": {
                "operationId": "beginDirectUpload",
                "tags": ["files"],
                "security": SECURITY,
                "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/DirectUploadRequest"})},
                "responses": {
                    "201": {
                        "description": "Where to send the bytes",
                        **_json({"$ref": "#/components/schemas/DirectUpload"}),
                    },
                    **_errors(400, 401, 403, 413, 415),
                },
            }
        },
        "/api/v1/files/{file_id}": {
            "parameters": [FILE_ID],
            "get": {
                "operationId": "getFile",
                "tags": ["files"],
                "security": SECURITY,
                "responses": {"200": {"description": "Metadata", **_json(FILE)}, **_errors(401, 404)},
            },
            "patch": {
                "operationId": "updateFile",
                "tags": ["files"],
                "security": SECURITY,
                "requestBody": {
                    "required": True,
                    **_json(
                        {
                            "type": "object",
                            "properties": {"name": {"type": "string"}, "acl": {"$ref": "#/components/schemas/ACL"}},
                            "additionalProperties": False,
                        }
                    ),
                },
                "responses": {"200": {"description": "Metadata", **_json(FILE)}, **_errors(400, 401, 403, 404)},
            },
            "delete": {
                "operationId": "deleteFile",
                "tags": ["files"],
                "security": SECURITY,
                "responses": {"204": {"description": "Deleted"}, **_errors(401, 403, 404)},
            },
        },
        "/api/v1/files/{file_id}/complete": {
            "parameters": [FILE_ID],
            "post": {
                "operationId": "completeDirectUpload",
                "tags": ["files"],
                "security": SECURITY,
                "responses": {
                    "200": {"description": "Verified and visible", **_json(FILE)},
                    **_errors(400, 401, 404, 409, 415),
                },
            },
        },
        "/api/v1/files/{file_id}/url": {
            "parameters": [FILE_ID],
            "post": {
                "operationId": "signFileUrl",
                "tags": ["files"],
                "security": SECURITY,
                "requestBody": {
                    "required": False,
                    **_json(
                        {
                            "type": "object",
                            "properties": {
                                "expires_in": {"type": "integer", "minimum": 1, "maximum": 604800},
                                "thumb": {"type": "string"},
                                "fit": {"enum": ["cover", "contain"]},
                            },
                            "additionalProperties": False,
                        }
                    ),
                },
                "responses": {
                    "200": {
                        "description": "A short-lived URL that needs no headers",
                        **_json(
                            {
                                "type": "object",
                                "properties": {
                                    "url": {"type": "string"},
                                    "expires_at": {"type": "string", "format": "date-time"},
                                },
                                "required": ["url", "expires_at"],
                            }
                        ),
                    },
                    **_errors(400, 401, 404),
                },
            },
        },
        "/api/v1/files/{file_id}/content": {
            "parameters": [FILE_ID],
            "get": {
                "operationId": "getFileContent",
                "tags": ["files"],
                "description": "The bytes (single Range → 206, If-None-Match → 304); `?token=` instead of headers.",
                "security": [*SECURITY, {}],
                "parameters": [
                    {"name": "token", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "thumb",
                        "in": "query",
                        "schema": {"type": "string", "pattern": "^[0-9]{1,4}x[0-9]{1,4}$"},
                    },
                    {"name": "fit", "in": "query", "schema": {"enum": ["cover", "contain"]}},
                    {"name": "Range", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The bytes",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "206": {
                        "description": "A range of the bytes",
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "304": {"description": "Not modified"},
                    **_errors(400, 401, 403, 404, 416, 422),
                },
            },
        },
    }


def components() -> dict[str, Any]:
    return {
        "File": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "content_type": {"type": "string"},
                "size": {"type": "integer"},
                "sha256": {"type": "string"},
                "url": {"type": "string"},
                "acl": {"$ref": "#/components/schemas/ACL"},
                "created_at": {"type": "string", "format": "date-time"},
            },
            "required": ["id", "name", "content_type", "size", "sha256", "url", "acl", "created_at"],
        },
        "FilePage": {
            "type": "object",
            "properties": {
                "results": {"type": "array", "items": FILE},
                "next_cursor": {"type": ["string", "null"]},
            },
            "required": ["results", "next_cursor"],
        },
        "DirectUploadRequest": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "content_type": {"type": "string"},
                "size": {"type": "integer", "minimum": 0},
                "acl": {"$ref": "#/components/schemas/ACL"},
            },
            "required": ["content_type", "size"],
            "additionalProperties": False,
        },
        "DirectUpload": {
            "type": "object",
            "properties": {
                "file_id": {"type": "string"},
                "upload_url": {"type": "string"},
                "method": {"enum": ["PUT", "POST"]},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "expires_at": {"type": "string", "format": "date-time"},
                "complete_url": {"type": "string"},
            },
            "required": ["file_id", "upload_url", "method", "headers", "expires_at"],
        },
    }

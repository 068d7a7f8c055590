"""A reference to an uploaded file: stored as the file id.

Rendered as the id alone here; basalt.files replaces it with {id, name, url, content_type, size} for
callers who may read the file (a caller-aware render hook, documents.render.CALLER_RENDERERS)."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldType, register
from basalt.documents.fields.common import EQUALITY, check_id


@register
class FileType(FieldType):
    name = "file"
    unchanged_types = frozenset({str})
    operators = EQUALITY

    def to_storage(self, value: Any, options: dict[str, Any]) -> str:
        return check_id(value, "A file")

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, str) else None

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "anyOf": [
                {"type": "string", "description": "the file id, for callers who may not read the file"},
                {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "url": {"type": "string"},
                        "content_type": {"type": "string"},
                        "size": {"type": "integer"},
                    },
                    "required": ["id", "name", "url", "content_type", "size"],
                },
            ]
        }

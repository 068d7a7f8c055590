"""A reference to an uploaded file: stored as the file id, rendered as {id, url}."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldType, register
from basalt.documents.fields.common import EQUALITY, check_id


@register
class FileType(FieldType):
    name = "file"
    operators = EQUALITY

    def to_storage(self, value: Any, options: dict[str, Any]) -> str:
        return check_id(value, "A file")

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        if not isinstance(stored, str):
            return None
        # Name and size live with the files area; the id and content URL need no extra query.
        return {"id": stored, "url": f"/api/v1/files/{stored}/content"}

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "url": {"type": "string"}},
            "required": ["id"],
        }

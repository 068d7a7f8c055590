"""True or false, nothing else (no 0/1, no "true")."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import EQUALITY


@register
class BooleanType(FieldType):
    name = "boolean"
    unchanged_types = frozenset({bool})
    operators = EQUALITY

    def to_storage(self, value: Any, options: dict[str, Any]) -> bool:
        if not isinstance(value, bool):
            raise FieldError("Must be true or false.")
        return value

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, bool) else None

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "boolean"}

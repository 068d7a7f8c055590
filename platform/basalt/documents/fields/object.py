"""Free-form JSON objects; dotted paths query inside them."""

from __future__ import annotations

from typing import Any

from basalt.core.json import NUL_MESSAGE
from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import EQUALITY, is_number

MAX_KEY = 256


def check_json(value: Any) -> None:
    """Refuse keys that are not plain names, numbers that are not finite and NUL in text, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or not key or len(key) > MAX_KEY or "." in key or key.startswith("$"):
                    raise FieldError("Object keys must be non-empty strings without '.' or a leading '$'.")
                if "\x00" in key:
                    raise FieldError(NUL_MESSAGE)
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise FieldError(NUL_MESSAGE)
        elif isinstance(item, int | float) and not isinstance(item, bool) and not is_number(item):
            raise FieldError("Numbers must be finite (integers within ±2^53).")


@register
class ObjectType(FieldType):
    name = "object"
    unchanged_types = frozenset({dict})
    operators = EQUALITY
    sortable = False

    def to_storage(self, value: Any, options: dict[str, Any]) -> dict:
        if not isinstance(value, dict):
            raise FieldError("Must be an object.")
        check_json(value)
        return value

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, dict) else None

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> Any:
        # Dotted paths compare scalars inside the object, so any JSON scalar or object is an operand.
        check_json(value)
        return value

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": True}

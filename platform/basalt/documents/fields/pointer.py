"""A reference to one document of another collection, stored and rendered as the target id."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import EQUALITY, check_id

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def check_target(options: dict[str, Any]) -> dict[str, Any]:
    target = options.get("to")
    if (
        not isinstance(target, str)
        or not 1 <= len(target) <= 63
        or not target[0].isalpha()
        or not set(target) <= NAME_CHARS
    ):
        raise FieldError("`to` must name a collection.")
    return options


@register
class PointerType(FieldType):
    name = "pointer"
    unchanged_types = frozenset({str})
    operators = EQUALITY
    options = frozenset({"to"})

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return check_target(options)

    def to_storage(self, value: Any, options: dict[str, Any]) -> str:
        return check_id(value, "A pointer")

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, str) else None

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "description": f"id of a document in `{options.get('to')}`"}

"""Text values, optionally bounded in length or limited to a list of choices."""

from __future__ import annotations

from typing import Any

from basalt.core.json import NUL_MESSAGE
from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import COMPARISONS, check_choices, non_negative_int

# A stored string longer than this would make the document itself the problem.
MAX_STRING = 1024 * 1024


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise FieldError("Must be a string.")
    if len(value) > MAX_STRING:
        raise FieldError("The string is too long.")
    if "\x00" in value:
        raise FieldError(NUL_MESSAGE)
    return value


@register
class StringType(FieldType):
    name = "string"
    unchanged_types = frozenset({str})
    operators = COMPARISONS | {"$regex", "$search"}
    options = frozenset({"max_length", "choices"})

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        if "max_length" in options:
            options["max_length"] = non_negative_int(options["max_length"], "max_length")
        if "choices" in options:
            options["choices"] = check_choices(options["choices"], _text)
        return options

    def to_storage(self, value: Any, options: dict[str, Any]) -> str:
        value = _text(value)
        limit = options.get("max_length")
        if limit is not None and len(value) > limit:
            raise FieldError(f"At most {limit} characters.")
        choices = options.get("choices")
        if choices is not None and value not in choices:
            raise FieldError("Must be one of the field's choices.")
        return value

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, str) else None

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> str:
        return _text(value)

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if "max_length" in options:
            schema["maxLength"] = options["max_length"]
        if "choices" in options:
            schema["enum"] = options["choices"]
        return schema

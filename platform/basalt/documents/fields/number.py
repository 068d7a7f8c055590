"""Finite numbers (no NaN or Infinity), optionally bounded by `min`/`max` or limited to choices."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import COMPARISONS, check_choices, check_number


@register
class NumberType(FieldType):
    name = "number"
    unchanged_types = frozenset({int, float})
    operators = COMPARISONS
    options = frozenset({"min", "max", "choices"})

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        for bound in ("min", "max"):
            if bound in options:
                options[bound] = check_number(options[bound], f"`{bound}`")
        if "min" in options and "max" in options and options["min"] > options["max"]:
            raise FieldError("`min` must not exceed `max`.")
        if "choices" in options:
            options["choices"] = check_choices(options["choices"], check_number)
        return options

    def to_storage(self, value: Any, options: dict[str, Any]) -> int | float:
        value = check_number(value, "The value")
        if "min" in options and value < options["min"]:
            raise FieldError(f"Must be at least {options['min']}.")
        if "max" in options and value > options["max"]:
            raise FieldError(f"Must be at most {options['max']}.")
        choices = options.get("choices")
        if choices is not None and value not in choices:
            raise FieldError("Must be one of the field's choices.")
        return value

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, int | float) and not isinstance(stored, bool) else None

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> int | float:
        return check_number(value, "The operand")

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "number"}
        if "min" in options:
            schema["minimum"] = options["min"]
        if "max" in options:
            schema["maximum"] = options["max"]
        if "choices" in options:
            schema["enum"] = options["choices"]
        return schema

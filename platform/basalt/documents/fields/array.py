"""Lists, optionally of one item type (`items`) and bounded in length (`max_length`)."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldError, FieldType, get_field_type, register
from basalt.documents.fields.common import non_negative_int
from basalt.documents.fields.object import check_json

ITEM_TYPES = ("string", "number", "boolean", "date", "object", "pointer", "file", "geopoint")
# Without a declared `max_length`, a list still cannot grow past this.
MAX_ITEMS = 10_000


def _item_spec(options: dict[str, Any]) -> tuple[FieldType, dict[str, Any]] | None:
    items = options.get("items")
    if items is None:
        return None
    if isinstance(items, str):
        return get_field_type(items), {}
    return get_field_type(items["type"]), items


@register
class ArrayType(FieldType):
    name = "array"
    operators = frozenset({"$contains", "$all", "$contained_by", "$in", "$nin", "$eq", "$ne"})
    options = frozenset({"items", "max_length", "to"})
    sortable = False

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        if "max_length" in options:
            options["max_length"] = non_negative_int(options["max_length"], "max_length")
        items = options.get("items")
        if items is not None:
            if isinstance(items, dict):
                item_type = items.get("type")
                extra = {key: value for key, value in items.items() if key != "type"}
            else:
                item_type, extra = items, {}
            if not isinstance(item_type, str) or item_type not in ITEM_TYPES:
                raise FieldError(f"`items` must be one of {', '.join(ITEM_TYPES)}.")
            field_type = get_field_type(item_type)
            unknown = set(extra) - field_type.options
            if unknown:
                raise FieldError(f"`items` has unknown option {sorted(unknown)[0]!r}.")
            extra = field_type.validate_options(dict(extra))
            options["items"] = {"type": item_type, **extra} if extra else item_type
            if item_type == "pointer" and "to" not in options:
                raise FieldError("An array of pointers needs `to`.")
        if "to" in options and _item_type_name(options) != "pointer":
            raise FieldError("`to` only applies to arrays of pointers.")
        return options

    def to_storage(self, value: Any, options: dict[str, Any]) -> list:
        if not isinstance(value, list):
            raise FieldError("Must be an array.")
        limit = options.get("max_length", MAX_ITEMS)
        if len(value) > limit:
            raise FieldError(f"At most {limit} items.")
        return [self.coerce_element(item, options, strict=True) for item in value]

    def coerce_element(self, item: Any, options: dict[str, Any], strict: bool = False) -> Any:
        """Convert one element to its stored form (strict: also apply the item type's options)."""
        spec = _item_spec(options)
        if spec is None:
            check_json(item)
            return item
        field_type, item_options = spec
        try:
            if strict:
                return field_type.to_storage(item, item_options)
            return field_type.coerce_operand(item, item_options)
        except FieldError as exc:
            raise FieldError(f"Each item: {exc}") from None

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        if not isinstance(stored, list):
            return None
        spec = _item_spec(options)
        if spec is None:
            return stored
        field_type, item_options = spec
        unchanged = field_type.unchanged_types
        return [item if type(item) in unchanged else field_type.to_client(item, item_options) for item in stored]

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> Any:
        # `$all`/`$eq` take a list, `$contains`/`$in` take elements: convert whichever arrives.
        if isinstance(value, list):
            return [self.coerce_element(item, options) for item in value]
        return self.coerce_element(value, options)

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array"}
        spec = _item_spec(options)
        if spec is not None:
            schema["items"] = spec[0].json_schema(spec[1])
        if "max_length" in options:
            schema["maxItems"] = options["max_length"]
        return schema


def _item_type_name(options: dict[str, Any]) -> str | None:
    items = options.get("items")
    return items.get("type") if isinstance(items, dict) else items

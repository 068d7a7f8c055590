"""Many-to-many edges kept in the Relation table; never inlined, queried with `$related_to`."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import check_id
from basalt.documents.fields.pointer import check_target

# One write may add or remove at most this many edges.
MAX_IDS = 1000


def check_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_IDS:
        raise FieldError(f"Must be a list of at most {MAX_IDS} ids.")
    return list(dict.fromkeys(check_id(item) for item in value))


@register
class RelationType(FieldType):
    name = "relation"
    operators = frozenset()
    options = frozenset({"to"})
    sortable = False
    stored_in_data = False
    indexable = False

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return check_target(options)

    def to_storage(self, value: Any, options: dict[str, Any]) -> list[str]:
        return check_ids(value)

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> Any:
        raise FieldError("Relations are queried with $related_to.")

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": {"type": "string"}, "writeOnly": True}

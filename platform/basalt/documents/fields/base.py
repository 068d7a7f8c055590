"""The field-type interface: each type validates, stores, renders and queries its own values.

One module per type registers an instance in `registry`. Stored forms (inside `Document.data`):
string → str; number → int/float (finite); boolean → bool; date → "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC,
fixed width so text order is time order); object → dict; array → list; pointer → target id str;
relation → not in `data` (edges live in the Relation table); file → file id str;
geopoint → {"lat": float, "lng": float}.
"""

from __future__ import annotations

from typing import Any, ClassVar


class FieldError(ValueError):
    """A value or option does not fit the field; the message is shown to the client as is."""


class FieldType:
    name: ClassVar[str]
    # `where` operators this type accepts (besides $exists, which every field accepts).
    operators: ClassVar[frozenset[str]] = frozenset({"$eq", "$ne", "$in", "$nin"})
    sortable: ClassVar[bool] = True
    # Options this type understands besides the common `type`, `required`, `default`.
    options: ClassVar[frozenset[str]] = frozenset()
    # False for types whose values live outside `Document.data` (relation edges).
    stored_in_data: ClassVar[bool] = True
    # Whether a declared index may name a field of this type.
    indexable: ClassVar[bool] = True
    # Stored values of exactly these types render as they are (`to_client` returns them unchanged):
    # rendering a page tests the type inline instead of calling `to_client` per value.
    unchanged_types: ClassVar[frozenset[type]] = frozenset()

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Check a field definition at schema time and return it normalised."""
        return options

    def to_storage(self, value: Any, options: dict[str, Any]) -> Any:
        """Validate a client-supplied value and return its stored form, or raise FieldError."""
        raise NotImplementedError

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        """Render a stored value for API responses."""
        return stored

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> Any:
        """Convert a query operand to the stored form so SQL compares like with like."""
        return self.to_storage(value, options)

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        """Describe the client form of a value for the OpenAPI document."""
        return {}


registry: dict[str, FieldType] = {}


def register(field_type: type[FieldType]) -> type[FieldType]:
    registry[field_type.name] = field_type()
    return field_type


def get_field_type(name: str) -> FieldType:
    try:
        return registry[name]
    except KeyError:
        raise FieldError(f"Unknown field type {name!r}.") from None

"""A point on Earth: {"lat": -90..90, "lng": -180..180}."""

from __future__ import annotations

from typing import Any

from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import is_number


def check_point(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or set(value) != {"lat", "lng"}:
        raise FieldError('Must be {"lat": number, "lng": number}.')
    lat, lng = value["lat"], value["lng"]
    if not is_number(lat) or not is_number(lng) or not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise FieldError("lat must be within -90..90 and lng within -180..180.")
    return {"lat": float(lat), "lng": float(lng)}


@register
class GeoPointType(FieldType):
    name = "geopoint"
    unchanged_types = frozenset({dict})
    operators = frozenset({"$near", "$within_box", "$within_polygon"})
    sortable = False

    def to_storage(self, value: Any, options: dict[str, Any]) -> dict[str, float]:
        return check_point(value)

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, dict) else None

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> Any:
        # `$near` takes a point; `$within_box` takes [[lat, lng], [lat, lng]].
        if isinstance(value, list):
            if len(value) != 2 or not all(isinstance(corner, list) and len(corner) == 2 for corner in value):
                raise FieldError("A box is [[lat, lng], [lat, lng]].")
            return [list(check_point({"lat": c[0], "lng": c[1]}).values()) for c in value]
        return check_point(value)

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                "lat": {"type": "number", "minimum": -90, "maximum": 90},
                "lng": {"type": "number", "minimum": -180, "maximum": 180},
            },
            "required": ["lat", "lng"],
            "additionalProperties": False,
        }

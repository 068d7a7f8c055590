"""Instants, stored as fixed-width UTC strings with milliseconds so text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from basalt.core.times import as_utc
from basalt.documents.fields.base import FieldError, FieldType, register
from basalt.documents.fields.common import COMPARISONS

# "2026-11-21T10:00:00.000Z" is 24 characters; longer input is refused before parsing.
MAX_INPUT = 40


def format_instant(moment: datetime) -> str:
    """Render an aware datetime as RFC 3339 UTC with milliseconds (API.md §1)."""
    moment = moment.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 ("183-…"), which breaks RFC 3339 and text order.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def parse_instant(value: Any, *, with_offset: bool = False) -> str:
    """Parse an RFC 3339 / ISO 8601 date or date-time into the stored form, or raise FieldError.

    A value without an offset is UTC, unless `with_offset` asks for one (tagged Dates of
    installations' custom fields, whose callers always send one: a missing offset is a mistake)."""
    if not isinstance(value, str) or not 10 <= len(value) <= MAX_INPUT:
        raise FieldError("Must be a date string like 2026-11-21T10:00:00.000Z.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError("Must be a date string like 2026-11-21T10:00:00.000Z.") from None
    if moment.tzinfo is None:
        if with_offset:
            raise FieldError("The date needs an offset (Z for UTC).")
        moment = moment.replace(tzinfo=UTC)
    moment = as_utc(moment)
    if moment is None:
        raise FieldError("The date is out of range.")
    return format_instant(moment)


@register
class DateType(FieldType):
    name = "date"
    unchanged_types = frozenset({str})
    operators = COMPARISONS
    options = frozenset({"min", "max"})

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        for bound in ("min", "max"):
            if bound in options:
                options[bound] = parse_instant(options[bound])
        if "min" in options and "max" in options and options["min"] > options["max"]:
            raise FieldError("`min` must not be after `max`.")
        return options

    def to_storage(self, value: Any, options: dict[str, Any]) -> str:
        stored = parse_instant(value)
        if "min" in options and stored < options["min"]:
            raise FieldError(f"Must not be before {options['min']}.")
        if "max" in options and stored > options["max"]:
            raise FieldError(f"Must not be after {options['max']}.")
        return stored

    def to_client(self, stored: Any, options: dict[str, Any]) -> Any:
        return stored if isinstance(stored, str) else None

    def coerce_operand(self, value: Any, options: dict[str, Any]) -> str:
        return parse_instant(value)

    def json_schema(self, options: dict[str, Any]) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}

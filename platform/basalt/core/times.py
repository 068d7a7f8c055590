"""The one text form of an instant in responses, events and payloads: RFC 3339, UTC, milliseconds, `Z`."""

from __future__ import annotations

from datetime import UTC, datetime

_RFC3339_MS = "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"


def rfc3339_ms(value: datetime) -> str:
    """`2026-12-06T18:45:26.181Z` from an aware datetime (any zone) or a naive one taken as UTC."""
    if value.tzinfo is not UTC and value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    # %-formatting of the fields: half the cost of isoformat(timespec=...), whose keyword and offset
    # handling dominated (twice per document rendered), and a third of strftime's; %04d keeps a year
    # before 1000 at four digits (glibc's %Y writes year 1 as "1").
    return _RFC3339_MS % (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond // 1000,
    )


def iso(value: datetime | None) -> str | None:
    """rfc3339_ms, or None for no time."""
    return None if value is None else rfc3339_ms(value)

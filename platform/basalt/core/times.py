"""Instants: the one text form in responses, events and payloads (RFC 3339, UTC, milliseconds, `Z`), and
client-sent date-times brought to UTC or refused (an offset can carry them past what datetime holds)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

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


def as_utc(moment: datetime) -> datetime | None:
    """`moment` in UTC, or None when it is naive (no offset to go by) or falls outside years 1 to 9999.

    `0001-01-01T00:00:00+01:00` is year 0 in UTC and `9999-12-31T23:59:59-01:00` year 10000: the
    conversion raises OverflowError, and so does SQLite's adapter, which converts any aware value it
    binds. Callers convert what they were sent here first and refuse None as bad input (400).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def keyset_cursor(moment: datetime, row_id: str) -> str:
    """An opaque cursor for a list ordered by (time, id): the last row's time and id."""
    return base64.urlsafe_b64encode(f"{moment.isoformat()}|{row_id}".encode()).decode().rstrip("=")


def read_keyset_cursor(cursor: Any) -> tuple[datetime, str] | None:
    """(time in UTC, id) from `keyset_cursor`'s text, or None for anything else (the caller's 400)."""
    text = str(cursor)[:200]
    try:
        moment, row_id = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode().split("|", 1)
        after = as_utc(datetime.fromisoformat(moment))
    except (ValueError, UnicodeDecodeError):
        return None
    return None if after is None else (after, row_id)

"""Client-sent date-times brought to UTC, or refused: an offset can carry them past what datetime holds."""

from __future__ import annotations

from datetime import UTC, datetime


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

"""Stored times reach clients as RFC 3339 UTC with milliseconds, whatever the engine handed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from basalt.documents.store import format_time


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        (datetime(2026, 12, 6, 0, 12, 31, 231999, tzinfo=UTC), "2026-12-06T00:12:31.231Z"),
        # A session in another time zone hands back the same instant with an offset.
        (datetime(2026, 12, 6, 1, 12, 31, 5000, tzinfo=timezone(timedelta(hours=1))), "2026-12-06T00:12:31.005Z"),
        (datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC), "2026-01-01T00:00:00.000Z"),
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000Z"),  # four-digit years
        ("2026-12-06 00:12:31.231999", "2026-12-06T00:12:31.231Z"),  # SQLite's text
        ("2026-12-06T00:12:31", "2026-12-06T00:12:31.000Z"),
    ],
)
def test_times_are_rfc3339_utc_with_milliseconds(stored, shown):
    assert format_time(stored) == shown

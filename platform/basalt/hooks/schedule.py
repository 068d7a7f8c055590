"""Cron expressions for scheduled jobs: five fields in an IANA timezone, with a minimum interval.

croniter (pinned) parses and steps the expression, DST included: hand-written cron parsing gets
ranges, steps, names and DST wrong in ways users only notice at 2 a.m.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from django.conf import settings

# How many upcoming fire times are checked against the minimum interval.
PROBE = 24


class BadSchedule(ValueError):
    """The message names the field (`cron` or `timezone`) and says what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def zone(name: object) -> ZoneInfo:
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or ".." in name or name.startswith("/"):
        raise BadSchedule("timezone", "An IANA timezone name such as UTC or Europe/Paris.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadSchedule("timezone", f"Unknown timezone {name[:64]!r}.") from None


def check(cron: object, tz_name: object, now: datetime) -> datetime:
    """Validate; return the first fire time after `now` (UTC)."""
    tz = zone(tz_name)
    if not isinstance(cron, str) or not cron.strip() or len(cron) > 120:
        raise BadSchedule("cron", "A cron expression of five fields: minute hour day-of-month month day-of-week.")
    if len(cron.split()) != 5:
        raise BadSchedule("cron", "Exactly five fields (minute hour day-of-month month day-of-week); no seconds.")
    try:
        steps = croniter(cron, now.astimezone(tz))
        times = [steps.get_next(datetime) for _ in range(PROBE)]
    except (CroniterBadCronError, ValueError, KeyError):
        raise BadSchedule("cron", f"Not a valid cron expression: {cron[:120]!r}.") from None
    except CroniterBadDateError:
        raise BadSchedule("cron", "This expression never fires (for example the 30th of February).") from None
    if times[0] - now > timedelta(days=366 * 5):
        raise BadSchedule("cron", "This expression does not fire within five years.")
    minimum = timedelta(seconds=settings.JOBS_MIN_INTERVAL_SECONDS)
    for earlier, later in zip(times, times[1:], strict=False):
        if later - earlier < minimum:
            raise BadSchedule(
                "cron", f"Runs may be at most once every {settings.JOBS_MIN_INTERVAL_SECONDS} seconds on this server."
            )
    return times[0].astimezone(ZoneInfo("UTC"))


def next_after(cron: str, tz_name: str, after: datetime) -> datetime | None:
    """The next fire time after `after`, or None if it no longer fires."""
    try:
        return croniter(cron, after.astimezone(ZoneInfo(tz_name))).get_next(datetime).astimezone(ZoneInfo("UTC"))
    except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError, ZoneInfoNotFoundError):
        return None

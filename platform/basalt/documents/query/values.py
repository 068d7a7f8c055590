"""Operand checks shared by the parser: JSON scalars only, finite, bounded, no NUL, real dates."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from basalt.core.errors import InvalidQuery
from basalt.core.times import as_utc

MAX_INT = 2**63 - 1
MAX_STRING = 65536


def scalar(value: Any, where: str) -> Any:
    """Return `value` if it is a JSON scalar both databases store and compare safely."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise InvalidQuery(f"{where}: the number is out of range.", details={"field": where})
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidQuery(f"{where}: NaN and Infinity are not allowed.", details={"field": where})
        return value
    if isinstance(value, str):
        return text(value, where)
    raise InvalidQuery(f"{where}: expected a string, number, boolean or null.", details={"field": where})


def text(value: Any, where: str, max_length: int = MAX_STRING) -> str:
    if not isinstance(value, str):
        raise InvalidQuery(f"{where}: expected a string.", details={"field": where})
    if "\x00" in value:
        raise InvalidQuery(f"{where}: NUL characters are not allowed.", details={"field": where})
    if len(value) > max_length:
        raise InvalidQuery(f"{where}: the string is longer than {max_length} characters.", details={"field": where})
    return value


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidQuery(f"{where}: expected a number.", details={"field": where})
    return float(scalar(value, where))


def timestamp(value: Any, where: str) -> datetime:
    """Parse an RFC 3339 time for a system date column; naive times are read as UTC."""
    raw = text(value, where, 64)
    try:
        parsed = parse_datetime(raw.replace("z", "Z"))
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidQuery(f"{where}: {raw!r} is not an RFC 3339 date-time.", details={"field": where})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    moment = as_utc(parsed)
    if moment is None:
        raise InvalidQuery(f"{where}: the date is out of range.", details={"field": where})
    return moment

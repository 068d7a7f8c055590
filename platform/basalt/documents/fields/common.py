"""Small checks shared by several field types (numbers, names, option shapes)."""

from __future__ import annotations

import math
import re
from typing import Any

from basalt.documents.fields.base import FieldError

# Integers past 2**53 lose precision in JavaScript clients and in SQLite's REAL comparisons.
MAX_SAFE_INTEGER = 2**53
ID_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
COMPARISONS = frozenset({"$eq", "$ne", "$in", "$nin", "$lt", "$lte", "$gt", "$gte"})
EQUALITY = frozenset({"$eq", "$ne", "$in", "$nin"})


def is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


def check_number(value: Any, what: str = "A value") -> int | float:
    if not is_number(value):
        raise FieldError(f"{what} must be a finite number (integers within ±2^53).")
    return value


def non_negative_int(value: Any, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 10_000_000:
        raise FieldError(f"`{option}` must be a non-negative integer.")
    return value


def check_id(value: Any, what: str = "An id") -> str:
    """Ids are opaque strings of a bounded alphabet; a dict `{"id": …}` is accepted for symmetry."""
    if isinstance(value, dict) and set(value) <= {"id", "name", "url"} and "id" in value:
        value = value["id"]
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise FieldError(f"{what} must be an id string.")
    return value


def check_choices(choices: Any, convert) -> list:
    if not isinstance(choices, list) or not choices or len(choices) > 1000:
        raise FieldError("`choices` must be a non-empty list of at most 1000 values.")
    converted = [convert(choice) for choice in choices]
    if len(set(map(repr, converted))) != len(converted):
        raise FieldError("`choices` must not repeat a value.")
    return converted

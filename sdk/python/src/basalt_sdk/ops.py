"""Atomic update operations (API.md §3) for `Collection.update`: `{"score": ops.increment(2)}`."""

from __future__ import annotations

from typing import Any

Operation = dict[str, Any]


def increment(by: float = 1) -> Operation:
    return {"__op": "increment", "by": by}


def add(*items: Any) -> Operation:
    return {"__op": "add", "items": list(items)}


def add_unique(*items: Any) -> Operation:
    return {"__op": "add_unique", "items": list(items)}


def remove(*items: Any) -> Operation:
    return {"__op": "remove", "items": list(items)}


def unset() -> Operation:
    return {"__op": "unset"}


def add_relation(*ids: str) -> Operation:
    return {"__op": "add_relation", "ids": list(ids)}


def remove_relation(*ids: str) -> Operation:
    return {"__op": "remove_relation", "ids": list(ids)}

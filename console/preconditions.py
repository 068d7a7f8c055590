"""Optimistic concurrency for console forms that send back a whole state (rules, settings sections).

A form carries the fingerprint of the state it was rendered from; saving checks it under the
project's row lock, in the same transaction as the write, so a second tab never silently
overwrites the first. Documents use their real ETag (`If-Match`) instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

from basalt.core.errors import Conflict

T = TypeVar("T")


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:20]


class StaleForm(Conflict):
    """The state changed since the form was rendered; `current` is what is stored now."""

    default_message = "Changed elsewhere since you opened this page."

    def __init__(self, current: Any):
        super().__init__()
        self.current = current


def save_if_unchanged(read_locked: Callable[[], Any], expected: str | None, save: Callable[[], T]) -> T:
    """Run `save` only if `read_locked()` (which takes the row lock) still matches `expected`.

    No `expected` (a client that sent none) saves unconditionally, like a request without If-Match.
    """
    with transaction.atomic():
        current = read_locked()
        if expected and fingerprint(current) != expected:
            raise StaleForm(current)
        return save()


@dataclass(frozen=True)
class ConflictNotice:
    """What the conflict box inside a form shows: the stored state and the way back to it."""

    message: str
    current: str
    reload_url: str
    overwrite_label: str = "Overwrite with my version"


def show_current(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)

"""Push domain events: listeners (webhooks, metrics) hear of a finished push after commit."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

_finished: list[Callable[[str], None]] = []


def on_finished(listener: Callable[[str], None]) -> None:
    if listener not in _finished:
        _finished.append(listener)


def finished(push_id: str) -> None:
    for listener in list(_finished):
        transaction.on_commit(lambda listener=listener: listener(push_id))

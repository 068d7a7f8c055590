"""Files domain events: listeners (webhooks) hear of a stored file after its row committed."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

_created: list[Callable[[str], None]] = []


def on_created(listener: Callable[[str], None]) -> None:
    if listener not in _created:
        _created.append(listener)


def created(file_id: str) -> None:
    """Call where a file becomes ready, inside its transaction: listeners run after the commit."""
    for listener in list(_created):
        transaction.on_commit(lambda listener=listener: listener(file_id))

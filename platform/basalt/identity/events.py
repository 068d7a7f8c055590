"""Identity events other areas subscribe to (e.g. realtime drops a revoked session's sockets).

Published after commit, never before: a subscriber sees only what really happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger("basalt.identity.events")


@dataclass(frozen=True)
class SessionsEnded:
    """These sessions' access tokens are refused from now on (logout, revocation, reset, deletion…)."""

    project_id: int
    session_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class RolesChanged:
    """Role membership, inheritance or names changed: re-resolve the roles of open connections."""

    project_id: int


Event = SessionsEnded | RolesChanged
_subscribers: dict[type, list[Callable[[Event], None]]] = {}


def subscribe(event_type: type, handler: Callable[[Event], None]) -> None:
    handlers = _subscribers.setdefault(event_type, [])
    if handler not in handlers:
        handlers.append(handler)


def publish_on_commit(event: Event) -> None:
    for handler in _subscribers.get(type(event), ()):
        transaction.on_commit(lambda handler=handler: handler(event), robust=True)

"""Plain-dict renderings of end-users and sessions; password and token material never appear."""

from __future__ import annotations

from typing import Any

from basalt.core.times import iso
from basalt.identity.models import EndUser, Session


def user_out(user: EndUser, custom: dict[str, Any]) -> dict[str, Any]:
    # Custom fields first, so a system field can never be shadowed by one of the same name.
    body: dict[str, Any] = dict(custom)
    body.update(
        {
            "id": user.id,
            "email": user.email,
            "username": user.username,
            "email_verified": user.email_verified,
            "is_anonymous": user.is_anonymous,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.updated_at),
        }
    )
    return body


def session_out(session: Session, current_id: str | None) -> dict[str, Any]:
    return {
        "id": session.id,
        "current": session.id == current_id,
        "user_agent": session.user_agent,
        "ip": session.ip,
        "created_at": iso(session.created_at),
        "last_used_at": iso(session.last_used_at),
    }

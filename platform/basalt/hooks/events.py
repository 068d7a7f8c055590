"""The event types an endpoint may subscribe to, and how a change-log row becomes one event."""

from __future__ import annotations

from typing import Any

from basalt.hooks.changelog import Change

USERS = "users"

# name → what it means. Areas that grow events outside the change log (files, push) add theirs
# here and create deliveries with `dispatch.emit`.
EVENT_TYPES: dict[str, str] = {
    "documents.create": "a document was created in a collection",
    "documents.update": "a document was changed",
    "documents.delete": "a document was deleted",
    "users.create": "an end-user signed up or was created",
    "users.update": "an end-user's profile changed",
    "users.delete": "an end-user was deleted",
}
PING = "webhook.ping"


def register(name: str, description: str) -> None:
    EVENT_TYPES.setdefault(name, description)


def event_of(change: Change) -> str:
    family = "users" if change.collection == USERS else "documents"
    return f"{family}.{change.type}"


def payload_of(change: Change, project_ref: str, timestamp: str) -> dict[str, Any]:
    """The Standard Webhooks body: {type, timestamp, data}."""
    data: dict[str, Any] = {
        "project": project_ref,
        "collection": change.collection,
        "id": change.document_id,
        "seq": change.seq,
    }
    if change.after is not None:
        data["document"] = change.after
    if change.before is not None:
        data["previous"] = change.before
    return {"type": event_of(change), "timestamp": timestamp, "data": data}

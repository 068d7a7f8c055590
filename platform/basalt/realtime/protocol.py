"""The client → server messages of API.md §6, checked and dispatched; every refusal is an `error` op.

Transport-neutral: the WebSocket consumer and the SSE views both hand raw text to `handle`.
"""

from __future__ import annotations

import re
from typing import Any

from basalt.core.errors import BasaltError, Conflict, InvalidJson, InvalidOperation, InvalidToken, PayloadTooLarge
from basalt.core.json import loads_json
from basalt.projects.caller import with_bearer
from basalt.realtime import subscriptions
from basalt.realtime.connection import Connection
from basalt.realtime.dbthread import in_thread
from basalt.realtime.hub import current_hub

SUB_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
SEQ = re.compile(r"^\d{1,19}\Z")
MAX_TOKEN = 8192


def _sub_id(message: dict[str, Any]) -> str:
    sub_id = message.get("id")
    if not isinstance(sub_id, str) or not SUB_ID.match(sub_id):
        raise InvalidOperation("`id` must be 1-64 letters, digits or _ . : -.", details={"field": "id"})
    return sub_id


def _since(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        return raw
    if isinstance(raw, str) and SEQ.match(raw):
        return int(raw)
    raise InvalidOperation("`since` must be a seq from an earlier event.", details={"field": "since"})


async def handle(conn: Connection, text: str | bytes) -> None:
    """Process one client message; errors go back as `error` ops and the connection stays usable."""
    sub_id = None
    try:
        if len(text) > conn.settings.max_message_bytes:
            raise PayloadTooLarge(f"Messages are limited to {conn.settings.max_message_bytes} bytes.")
        message = loads_json(text, "The message")
        if not isinstance(message, dict):
            raise InvalidJson("A message is a JSON object with an `op`.")
        if isinstance(message.get("id"), str) and len(message["id"]) <= 64:
            sub_id = message["id"]
        op = message.get("op")
        handler = HANDLERS.get(op) if isinstance(op, str) else None
        if handler is None:
            raise InvalidOperation(f"Unknown op {str(op)[:40]!r}.", details={"op": str(op)[:40]})
        await handler(conn, message)
    except BasaltError as exc:
        conn.push_error(exc, sub_id)


async def _ping(conn: Connection, message: dict[str, Any]) -> None:
    conn.push({"op": "pong"})


async def _auth(conn: Connection, message: dict[str, Any]) -> None:
    token = message.get("access_token")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN:
        raise InvalidToken("`access_token` must be the end-user's access token.")
    caller = await in_thread(with_bearer)(conn.key_caller, token)
    conn.caller, conn.token = caller, token
    conn.push({"op": "authenticated", "user_id": caller.user_id})


async def _subscribe(conn: Connection, message: dict[str, Any]) -> None:
    sub_id = _sub_id(message)
    if sub_id in conn.subs:
        raise Conflict(f"A subscription {sub_id!r} already exists on this connection.")
    if len(conn.subs) >= conn.settings.max_subscriptions:
        raise BasaltError(
            f"At most {conn.settings.max_subscriptions} subscriptions per connection.", code="quota_exceeded"
        )
    unknown = set(message) - {"op", "id", "collection", "where", "fields", "since", "snapshot"}
    if unknown:
        raise InvalidOperation(f"Unknown key {sorted(unknown)[0][:40]!r}.")
    snapshot = message.get("snapshot", False)
    if not isinstance(snapshot, bool):
        raise InvalidOperation("`snapshot` must be true or false.")
    since = _since(message.get("since"))
    collection = message.get("collection")
    if not isinstance(collection, str):
        raise InvalidOperation("`collection` must name a collection.", details={"field": "collection"})
    _schema, where, fields = await in_thread(subscriptions.prepare)(
        conn.caller, collection, message.get("where"), message.get("fields")
    )
    sub = subscriptions.Subscription(
        conn, sub_id, collection, message.get("where"), where, fields, since=since, snapshot=snapshot
    )
    # Reserve the id now: a burst of subscribes must not pass the limit while attaches are queued.
    conn.subs[sub_id] = sub
    try:
        await current_hub().attach(sub)
    except BaseException:
        if conn.subs.get(sub_id) is sub:
            del conn.subs[sub_id]
        raise


async def _unsubscribe(conn: Connection, message: dict[str, Any]) -> None:
    sub = conn.subs.get(_sub_id(message))
    if sub is not None:
        current_hub().detach(sub)
    conn.push({"op": "unsubscribed", "id": message["id"]})


async def _join(conn: Connection, message: dict[str, Any]) -> None:
    from basalt.realtime.rooms import join

    await join(conn, message)


async def _leave(conn: Connection, message: dict[str, Any]) -> None:
    from basalt.realtime.rooms import leave

    await leave(conn, message)


async def _broadcast(conn: Connection, message: dict[str, Any]) -> None:
    from basalt.realtime.rooms import broadcast

    await broadcast(conn, message)


HANDLERS = {
    "ping": _ping,
    "auth": _auth,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "join": _join,
    "leave": _leave,
    "broadcast": _broadcast,
}

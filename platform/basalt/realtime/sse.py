"""The Server-Sent Events face of realtime, for clients without WebSockets (API.md §6).

`GET /api/v1/realtime/sse` opens a stream whose first event names the connection; the client sends
the same messages as over a WebSocket with `POST /api/v1/realtime/sse/{connection_id}` (same key).
Events carrying a seq are sent with `id: <seq>`. A client that reconnects with `Last-Event-ID`
(and `?connection_id=` of the stream it lost) gets that stream's subscriptions back, replayed from
the change log after that seq; without the old connection id it re-subscribes with `since` itself.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from basalt.core.errors import BasaltError, MethodNotAllowed, NotFound
from basalt.core.middleware import json_error
from basalt.projects.caller import bearer_token, resolve_caller
from basalt.realtime import protocol
from basalt.realtime.connection import CLOSE, Connection
from basalt.realtime.dbthread import in_thread
from basalt.realtime.hub import current_hub

KEEPALIVE_SECONDS = 15.0
# A lost stream's connection is kept this long so that a reconnect can take its subscriptions over.
RESUME_GRACE_SECONDS = 30.0
_SEQ = re.compile(r"^\d{1,19}\Z")
_streams: dict[str, Connection] = {}


def _frame(text: str) -> bytes:
    message = orjson.loads(text)
    seq = message.get("seq")
    head = f"id: {seq}\n" if isinstance(seq, str) else ""
    return f"{head}data: {text}\n\n".encode()


async def _events(conn: Connection):
    yield f"data: {orjson.dumps({'op': 'connected', 'connection_id': conn.id}).decode()}\n\n".encode()
    try:
        while True:
            try:
                text = await asyncio.wait_for(conn.next_message(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield b": keepalive\n\n"
                continue
            if text is CLOSE:
                return
            yield _frame(text)
    finally:
        if conn.closed:
            _streams.pop(conn.id, None)
        else:
            asyncio.get_running_loop().call_later(RESUME_GRACE_SECONDS, _expire, conn)


def _expire(conn: Connection) -> None:
    if _streams.get(conn.id) is conn:
        _streams.pop(conn.id, None)
        conn.shut()


async def _resume(conn: Connection, old_id: str, last_event_id: str) -> None:
    """Take over a lost stream's subscriptions, replayed after the last seq the client saw."""
    old = _streams.get(old_id)
    if old is None or old.key_raw != conn.key_raw or old.caller.user_id != conn.caller.user_id:
        conn.push_error(NotFound("That connection is gone; subscribe again with `since`."))
        return
    specs = [
        {
            "op": "subscribe",
            "id": sub.id,
            "collection": sub.collection,
            "where": sub.where_raw,
            "since": str(max(int(last_event_id), sub.extra.get("start", 0))),
        }
        | ({"fields": sorted(sub.fields)} if sub.fields else {})
        for sub in old.subs.values()
    ]
    _streams.pop(old_id, None)
    old.shut()
    for spec in specs:
        await protocol.handle(conn, orjson.dumps(spec))


@csrf_exempt
async def stream(request: HttpRequest) -> HttpResponse:
    if request.method != "GET":
        return json_error(MethodNotAllowed(headers={"Allow": "GET"}))
    try:
        caller = await in_thread(resolve_caller)(request)
    except BasaltError as exc:
        return json_error(exc)
    conn = Connection(caller, request.META.get("HTTP_X_API_KEY", ""), "sse")
    conn.token = bearer_token(request)
    _streams[conn.id] = conn
    current_hub().add_connection(conn)
    last_event_id = request.META.get("HTTP_LAST_EVENT_ID", "")
    old_id = request.GET.get("connection_id", "")
    if old_id and _SEQ.match(last_event_id):
        await _resume(conn, old_id, last_event_id)
    return events_response(conn)


def events_response(conn: Connection) -> StreamingHttpResponse:
    """The stream of a connection's messages as Server-Sent Events."""
    response = StreamingHttpResponse(_events(conn), content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold events back
    return response


@csrf_exempt
async def send(request: HttpRequest, connection_id: str) -> HttpResponse:
    if request.method != "POST":
        return json_error(MethodNotAllowed(headers={"Allow": "POST"}))
    try:
        caller = await in_thread(resolve_caller)(request)
        conn = _streams.get(connection_id)
        # Only the client holding the same key (and user) may drive a stream it knows the id of.
        if conn is None or conn.closed or conn.key_raw != request.META.get("HTTP_X_API_KEY", ""):
            raise NotFound("No such realtime connection.")
        if caller.user_id is not None and caller.user_id != conn.caller.user_id:
            raise NotFound("No such realtime connection.")
    except BasaltError as exc:
        return json_error(exc)
    await protocol.handle(conn, request.body)
    return HttpResponse(status=202)


def streams() -> dict[str, Any]:
    return {conn_id: conn.describe() for conn_id, conn in _streams.items()}

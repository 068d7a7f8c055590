"""The WebSocket face of realtime: `/api/v1/realtime?apikey=<key>`; everything else is the engine's."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, InvalidApiKey, InvalidToken, PermissionDenied
from basalt.projects.cors import project_allows
from basalt.projects.keys import resolve_key
from basalt.projects.project_settings import effective_settings
from basalt.realtime import protocol, wire
from basalt.realtime.connection import CLOSE, Connection, error_message
from basalt.realtime.dbthread import in_thread
from basalt.realtime.hub import current_hub

logger = logging.getLogger("basalt.realtime")

# Query parameters that would put a credential other than the key into URLs that proxies log.
TOKEN_PARAMS = ("access_token", "token", "authorization", "refresh_token", "jwt")


def _key_caller(raw: str | None, origin: str | None, host: str | None) -> tuple[Caller, str]:
    key = resolve_key(raw)
    caller = Caller.for_key(key)
    if origin is not None and not origin_allowed(caller.project, origin, host):
        raise PermissionDenied(
            "This page's origin is not among the project's allowed origins (settings: cors_origins).",
            details={"origin": origin[:200]},
        )
    return caller, raw or ""


def origin_allowed(project, origin: str, host: str | None) -> bool:
    """A browser's WebSocket (browsers send Origin; CORS does not apply to WebSockets) is refused
    only when the project restricts origins and this one is neither listed nor the server's own."""
    if not (effective_settings(project).get("cors_origins") or []):
        return True
    if host and urlsplit(origin).netloc.lower() == host.lower():
        return True  # the console's own pages (test client) on this server
    return project_allows(project, origin)


# A scope extension set by a server whose `send` must be awaited by a task (granian under `serve`):
# its send is not a coroutine that `_send_now` could step on the caller's stack.
SEND_AWAITED_ONLY = "basalt.send_awaited_only"


async def _finish(coro: Any, blocked_on: Any) -> None:
    """Drive a coroutine that suspended on `blocked_on` (what it yielded) to its end."""
    while True:
        if blocked_on is None:  # a bare yield (`asyncio.sleep(0)`): just give the loop a turn
            await asyncio.sleep(0)
        else:
            # As a task does with what its coroutine yields: the future was marked "being awaited"
            # when it was yielded, and awaiting it again would refuse.
            blocked_on._asyncio_future_blocking = False
            await blocked_on
        try:
            blocked_on = coro.send(None)
        except StopIteration:
            return


class EngineConsumer(AsyncWebsocketConsumer):
    """A WebSocket consumer whose database work all goes through `in_thread`."""

    async def dispatch(self, message: dict) -> None:
        # channels hops to a thread to close stale database connections before every handler
        # (each connect, client message and disconnect); nothing here holds a connection on this
        # loop (`in_thread` hands its own back), so the hop is pure cost per message.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class HubConsumer(EngineConsumer):
    """A WebSocket whose Connection lives in the process's hub: both protocols (native and Parse
    LiveQuery) attach, write out (directly from the fan-out when the writer is idle) and detach a
    connection the same way, here."""

    # No channel-layer channel per socket: the process's hub is the only layer member (one message
    # per change per process, not per subscriber), and 10,000 sockets must not mean 10,000 Redis reads.
    channel_layer_alias = "realtime-no-layer"
    conn: Connection | None = None
    writer: asyncio.Task | None = None
    sending: asyncio.Future | None = None
    wire: wire.DirectWire | None = None

    def attach(self, conn: Connection) -> None:
        """Register the connection with the hub and start sending what it queues."""
        self.conn = conn
        self.wire = wire.DirectWire.of(self.base_send)
        if not self.scope.get("extensions", {}).get(SEND_AWAITED_ONLY):
            conn.send_now = self._send_now
        current_hub().add_connection(conn)
        self.writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        conn = self.conn
        while True:
            text = await conn.next_message()
            if self.sending is not None:  # a direct send the server did not finish at once: keep order
                await self.sending
                self.sending = None
            if text is CLOSE:
                await self.close(code=conn.close_code)
                return
            await self.send(text_data=text)

    def _send_now(self, text: str) -> bool:
        """Send from the caller's stack: the server's `send` is a coroutine, but daphne's completes
        without suspending, so it is run to its end here; one that suspends is finished by a task
        the writer waits for before its next message."""
        if self.sending is not None:
            return False
        if self.wire is not None and self.wire.send(text):
            return True  # straight onto daphne's socket (wire.py): no frame, selector or task per socket
        coro = self.base_send({"type": "websocket.send", "text": text})
        try:
            blocked_on = coro.send(None)
        except StopIteration:
            return True
        except Exception:  # the socket is gone or the server refused: the writer's path reports it
            logger.debug("realtime: direct send failed", exc_info=True)
            return True
        self.sending = asyncio.ensure_future(_finish(coro, blocked_on))
        return True

    async def disconnect(self, code: int) -> None:
        if self.conn is not None:
            self.conn.closed = True
            current_hub().drop_connection(self.conn)
        if self.writer is not None:
            self.writer.cancel()


class RealtimeConsumer(HubConsumer):
    async def connect(self) -> None:
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            if any(name in query for name in TOKEN_PARAMS):
                raise InvalidToken('Tokens are never sent in the URL; send {"op": "auth"} as the first message.')
            keys = query.get("apikey") or []
            headers = dict(self.scope.get("headers") or [])
            origin, host = headers.get(b"origin"), headers.get(b"host")
            caller, raw = await in_thread(_key_caller)(
                keys[0] if len(keys) == 1 else None,
                origin.decode("latin-1") if origin is not None else None,
                host.decode("latin-1") if host is not None else None,
            )
        except BasaltError as exc:
            await self._refuse(exc)
            return
        self.attach(Connection(caller, raw, "websocket"))

    async def _refuse(self, error: BasaltError) -> None:
        import orjson

        await self.send(text_data=orjson.dumps(error_message(error)).decode())
        code = 4001 if isinstance(error, InvalidApiKey | InvalidToken) else 4003 if error.status == 403 else 4000
        await self.close(code=code)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.conn is None or self.conn.closed:
            return
        await protocol.handle(self.conn, text_data if text_data is not None else bytes_data or b"")

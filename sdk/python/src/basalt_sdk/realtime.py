"""`client.realtime`: live queries and channels over a WebSocket, with reconnects that miss nothing.

    async with client.realtime as rt:
        async for event in await rt.subscribe("posts", where={"score": {"$gt": 1}}, snapshot=True):
            ...  # Snapshot first (if asked), then Event(type="create"|"update"|"delete"|"enter"|"leave")

A dropped connection is reopened with backoff; the access token (the client's current one) is sent
again as `auth`, and every subscription resumes with `since` = the last seq it saw, so events are
neither lost nor repeated (duplicates are dropped by seq). Needs the `websockets` package
(`pip install basalt-sdk[realtime]`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from basalt_sdk.errors import BY_CODE, BasaltError

if TYPE_CHECKING:
    from basalt_sdk.client import Client

logger = logging.getLogger("basalt_sdk.realtime")

STATUS_BY_CODE = {
    "invalid_json": 400,
    "invalid_query": 400,
    "invalid_operation": 400,
    "invalid_api_key": 401,
    "invalid_token": 401,
    "token_expired": 401,
    "permission_denied": 403,
    "not_found": 404,
    "conflict": 409,
    "payload_too_large": 413,
    "rate_limited": 429,
    "quota_exceeded": 429,
    "resync_required": 410,
}


class ResyncRequiredError(BasaltError):
    """The subscription's position fell out of the change log's retention: refetch, then subscribe again."""


def realtime_error(body: dict[str, Any]) -> BasaltError:
    error = body.get("error") or {}
    code = str(error.get("code", "error"))
    cls = ResyncRequiredError if code == "resync_required" else BY_CODE.get(code, BasaltError)
    return cls(code, str(error.get("message", "")), STATUS_BY_CODE.get(code, 400), error.get("details") or {})


@dataclass(frozen=True)
class Event:
    type: str  # create, update, delete, enter, leave
    document: dict[str, Any]
    seq: int
    subscription: str


@dataclass(frozen=True)
class Snapshot:
    documents: list[dict[str, Any]]
    seq: int
    subscription: str


@dataclass
class Subscription:
    """An async iterator of Snapshot and Event objects for one live query."""

    realtime: Realtime
    id: str
    request: dict[str, Any]
    seq: int | None = None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    ready: asyncio.Future | None = None

    def __aiter__(self) -> AsyncIterator[Event | Snapshot]:
        return self

    async def __anext__(self) -> Event | Snapshot:
        item = await self.queue.get()
        if isinstance(item, BaseException):
            raise item
        if item is None:
            raise StopAsyncIteration
        return item

    async def unsubscribe(self) -> None:
        self.realtime._subs.pop(self.id, None)
        await self.realtime._send({"op": "unsubscribe", "id": self.id})
        self.queue.put_nowait(None)


class Realtime:
    def __init__(self, client: Client, *, reconnect_delay: float = 0.2, max_delay: float = 5.0):
        self.client = client
        self._url = client.url.replace("https://", "wss://").replace("http://", "ws://")
        self._key = client._http.headers["X-API-Key"]
        self._subs: dict[str, Subscription] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self.channel_messages: asyncio.Queue = asyncio.Queue()  # broadcast and presence ops
        self._ids = itertools.count(1)
        self._ws: Any = None
        self._runner: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._delay, self._max_delay = reconnect_delay, max_delay

    async def __aenter__(self) -> Realtime:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
        await self._connected.wait()

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        for sub in self._subs.values():
            sub.queue.put_nowait(None)

    async def subscribe(
        self,
        collection: str,
        where: dict[str, Any] | None = None,
        *,
        fields: list[str] | None = None,
        snapshot: bool = False,
        since: int | str | None = None,
    ) -> Subscription:
        """Start a live query; raises the typed error if the server refuses it (e.g. InvalidQueryError)."""
        await self.connect()
        sub_id = f"s{next(self._ids)}"
        request: dict[str, Any] = {"op": "subscribe", "id": sub_id, "collection": collection}
        for name, value in (("where", where), ("fields", fields)):
            if value is not None:
                request[name] = value
        if snapshot:
            request["snapshot"] = True
        sub = Subscription(self, sub_id, request, seq=int(since) if since is not None else None)
        sub.ready = asyncio.get_running_loop().create_future()
        self._subs[sub_id] = sub
        await self._send(self._subscribe_message(sub))
        try:
            await sub.ready
        except BasaltError:
            self._subs.pop(sub_id, None)
            raise
        return sub

    async def set_access_token(self, token: str | None) -> None:
        """After a token refresh: the new token signs the connection in (and every reconnect)."""
        self.client.access_token = token
        if token and self._ws is not None:
            await self._send({"op": "auth", "access_token": token})

    async def join(self, channel: str, presence: dict[str, Any] | None = None) -> None:
        self._channels[channel] = {"op": "join", "channel": channel, **({"presence": presence} if presence else {})}
        await self._send(self._channels[channel])

    async def leave(self, channel: str) -> None:
        self._channels.pop(channel, None)
        await self._send({"op": "leave", "channel": channel})

    async def broadcast(self, channel: str, event: str, payload: Any = None) -> None:
        await self._send({"op": "broadcast", "channel": channel, "event": event, "payload": payload})

    # --- internals ---------------------------------------------------------------------------------
    def _subscribe_message(self, sub: Subscription) -> dict[str, Any]:
        if sub.seq is None:
            return sub.request
        # Resuming: replay after the last seq seen; a snapshot is not repeated.
        return {**{k: v for k, v in sub.request.items() if k != "snapshot"}, "since": str(sub.seq)}

    async def _send(self, message: dict[str, Any]) -> None:
        await self._connected.wait()
        try:
            await self._ws.send(json.dumps(message))
        except Exception as exc:  # dropped: the reconnect re-sends subscriptions and channels
            logger.debug("realtime send failed (%s); it is re-sent on reconnect", exc)

    async def _run(self) -> None:
        import websockets

        delay = self._delay
        while not self._closing:
            try:
                async with websockets.connect(f"{self._url}/api/v1/realtime?apikey={self._key}", max_size=None) as ws:
                    self._ws = ws
                    if self.client.access_token:
                        await ws.send(json.dumps({"op": "auth", "access_token": self.client.access_token}))
                    for sub in self._subs.values():
                        await ws.send(json.dumps(self._subscribe_message(sub)))
                    for join in self._channels.values():
                        await ws.send(json.dumps(join))
                    self._connected.set()
                    delay = self._delay
                    async for raw in ws:
                        self._dispatch(json.loads(raw))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.info("realtime connection lost (%s); reconnecting", exc)
            self._connected.clear()
            self._ws = None
            if not self._closing:
                await asyncio.sleep(delay)
                delay = min(self._max_delay, delay * 2)

    def _dispatch(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        sub = self._subs.get(message.get("id", ""))
        if op in ("broadcast", "presence"):
            self.channel_messages.put_nowait(message)
        elif op == "error":
            error = realtime_error(message)
            if sub is None:
                return  # connection-level (e.g. slow_consumer): the reconnect takes it from here
            if sub.ready is not None and not sub.ready.done():
                sub.ready.set_exception(error)
            else:
                self._subs.pop(sub.id, None)
                sub.queue.put_nowait(error)
        elif sub is None:
            return
        elif op == "subscribed":
            if sub.seq is None:
                sub.seq = int(message["seq"])
            if sub.ready is not None and not sub.ready.done():
                sub.ready.set_result(None)
        elif op == "snapshot":
            sub.seq = int(message["seq"])
            sub.queue.put_nowait(Snapshot(message["documents"], int(message["seq"]), sub.id))
        elif op == "event":
            seq = int(message["seq"])
            if sub.seq is not None and seq <= sub.seq:
                return  # already delivered before a reconnect
            sub.seq = seq
            sub.queue.put_nowait(Event(message["type"], message["document"], seq, sub.id))

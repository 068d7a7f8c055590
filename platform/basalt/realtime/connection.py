"""One client connection, whatever its transport: caller, subscriptions, channels and a bounded outbox."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from django.conf import settings

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError
from basalt.core.ids import random_id
from basalt.realtime.config import RealtimeSettings, realtime_settings
from basalt.realtime.visibility import caller_key

if TYPE_CHECKING:
    from basalt.realtime.subscriptions import Subscription

DIRECT_WINDOW_SECONDS = 0.05
CLOSE = object()  # the outbox sentinel: the transport closes after what precedes it


def error_message(error: BasaltError, sub_id: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"op": "error"}
    if sub_id is not None:
        message["id"] = sub_id
    message["error"] = error.payload()["error"]
    return message


class Connection:
    # Whether events carry `previous`: the document as this caller saw it before the change (and
    # the last readable state on delete). Parse LiveQuery sends it (`original`, and the object of
    # a delete); the native protocol does not ask for it, so its fan-out renders nothing extra.
    wants_previous = False

    def __init__(self, caller: Caller, key_raw: str, transport: str):
        self.id = random_id(24)
        self.transport = transport
        self.caller = caller
        self.key_caller = caller  # what the connection falls back to when the user's session ends
        self.key_raw = key_raw
        self.token: str | None = None
        self.subs: dict[str, Subscription] = {}
        self.rooms: dict[str, dict[str, Any] | None] = {}
        self.outbox: asyncio.Queue = asyncio.Queue()
        self._bulk = 0
        # The transport's synchronous send, when it has one, used while its writer waits on an empty
        # outbox: a fan-out then hands each socket its frame directly instead of waking a task per
        # socket (the per-subscriber cost of a fan-out). It returns False to fall back to the outbox.
        self.send_now: Callable[[str], bool] | None = None
        self.writer_waiting = False
        # Direct sends skip the outbox, so a burst could not reach its bound: at most the bound's
        # worth go direct per burst window, the rest queue and count against it as before.
        self._direct = 0
        self._direct_window = 0.0
        self.closed = False
        self.close_code = 1000
        self.validated_at = time.monotonic()
        self.opened_at = time.time()
        self.settings: RealtimeSettings = realtime_settings(caller.project)
        self._bucket = float(self.settings.broadcasts_per_second)
        self._bucket_at = time.monotonic()

    @property
    def caller(self) -> Caller:
        return self._caller

    @caller.setter
    def caller(self, value: Caller) -> None:
        # Computed once per change of caller, not once per event in a fan-out.
        self._caller = value
        self.principal_key = caller_key(value)

    @property
    def project_id(self) -> int:
        return self.caller.project.id

    def push(self, message: dict[str, Any], bulk: bool = False) -> None:
        self.push_text(orjson.dumps(message).decode(), bulk)

    def push_text(self, text: str, bulk: bool = False) -> None:
        """Queue a message; a client whose backlog passes the bound is told so and closed.

        `bulk` messages (a replay or snapshot, themselves bounded) do not count against the bound
        until the transport has taken them."""
        if self.closed:
            return
        if not bulk and self.outbox.qsize() - self._bulk >= settings.REALTIME_SEND_BUFFER:
            self.slow_consumer()
            return
        if bulk:
            self._bulk += 1
        elif self.writer_waiting and self.send_now is not None and self.outbox.empty() and self._may_send_direct():
            if self.send_now(text):
                return
        self.outbox.put_nowait(text)

    def _may_send_direct(self) -> bool:
        now = time.monotonic()
        if now - self._direct_window > DIRECT_WINDOW_SECONDS:
            self._direct_window, self._direct = now, 0
        self._direct += 1
        return self._direct <= settings.REALTIME_SEND_BUFFER

    async def next_message(self) -> Any:
        """The next text for the transport to send, or CLOSE."""
        self.writer_waiting = True
        try:
            item = await self.outbox.get()
        finally:
            self.writer_waiting = False
        if self._bulk:
            self._bulk -= 1
        return item

    def push_error(self, error: BasaltError, sub_id: str | None = None) -> None:
        self.push(error_message(error, sub_id))

    def slow_consumer(self) -> None:
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self._bulk = 0
        error = BasaltError("The connection fell too far behind; reconnect with `since`.", code="slow_consumer")
        self.outbox.put_nowait(orjson.dumps(error_message(error)).decode())
        self.shut(4008)

    def shut(self, code: int = 1000) -> None:
        """Stop taking messages and let the transport close once the outbox is drained."""
        if not self.closed:
            self.closed = True
            self.close_code = code
            self.outbox.put_nowait(CLOSE)
            from basalt.realtime.hub import current_hub

            current_hub().drop_connection(self)

    def take_broadcast(self) -> bool:
        """A token bucket: `broadcasts_per_second` sustained, the same as a burst."""
        now = time.monotonic()
        rate = float(self.settings.broadcasts_per_second)
        self._bucket = min(rate, self._bucket + (now - self._bucket_at) * rate)
        self._bucket_at = now
        if self._bucket < 1:
            return False
        self._bucket -= 1
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "transport": self.transport,
            "user_id": self.caller.user_id,
            "key_kind": self.caller.key_kind,
            "subscriptions": [
                {"id": s.id, "collection": s.collection, "where": s.where_raw} for s in self.subs.values()
            ],
            "channels": sorted(self.rooms),
            "opened_at": self.opened_at,
        }

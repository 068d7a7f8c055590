"""A hub's ear on Redis (production): subscribed to the announcement channel of each project it
serves, it feeds the rows it hears into the hub's inbox.

redis.asyncio's own PubSub on one connection of its own, rather than channels_redis': the
RedisChannelLayer has no pub/sub (its groups are sorted sets polled with BZPOPMIN), and its
RedisPubSubChannelLayer would bring back the per-message envelope and msgpack this replaces.

What it hears is untrusted (anything that may PUBLISH on the Redis can write on these channels):
a payload `announce.decode` refuses is logged and ignored. After a lost connection (Redis
restarted, the connection killed) it reconnects and subscribes again; every SUBSCRIBE Redis
confirms queues a catch-up of that project from the change log, so a row announced while this
hub was not yet (or no longer) listening is read at once rather than at the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from basalt.realtime.announce import SOCKET_SECONDS, Warnings, decode, project_channel, redis_url

if TYPE_CHECKING:
    from basalt.realtime.hub import Hub

RECONNECT_SECONDS = 0.5


class ChangeListener:
    def __init__(self, hub: Hub):
        self.hub = hub
        self.channels: dict[bytes, int] = {}  # channel → project id: what this hub serves
        self.pubsub: aioredis.client.PubSub | None = None
        self.warnings = Warnings()

    def follow(self, project_id: int) -> None:
        channel = project_channel(project_id).encode()
        if channel in self.channels:
            return
        self.channels[channel] = project_id
        if self.pubsub is not None:
            self.hub.spawn(self._command(self.pubsub, "subscribe", channel))

    def unfollow(self, project_id: int) -> None:
        channel = project_channel(project_id).encode()
        if self.channels.pop(channel, None) is not None and self.pubsub is not None:
            self.hub.spawn(self._command(self.pubsub, "unsubscribe", channel))

    async def _command(self, pubsub: aioredis.client.PubSub, name: str, channel: bytes) -> None:
        try:
            await getattr(pubsub, name)(channel)
        except Exception as exc:
            self.warnings.warn("command", "realtime: Redis %s failed (%s); reconnecting", name, type(exc).__name__)
            # The reader sees the closed connection, reconnects and subscribes to what is wanted then.
            if pubsub.connection is not None:
                await pubsub.connection.disconnect(nowait=True)

    async def run(self) -> None:
        while True:
            client = aioredis.Redis.from_url(
                redis_url(),
                socket_connect_timeout=SOCKET_SECONDS,
                socket_keepalive=True,
                retry=Retry(NoBackoff(), 0),  # this loop reconnects, and resubscribes, itself
                client_name="basalt-rt-hub",
            )
            pubsub = client.pubsub()
            try:
                await pubsub.connect()
                self.pubsub = pubsub
                if self.channels:
                    await pubsub.subscribe(*self.channels)
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self.receive(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.warnings.warn(
                    "listen",
                    "realtime: Redis subscription lost (%s); the change-log poll covers the gap until it is back",
                    type(exc).__name__,
                )
            finally:
                self.pubsub = None
                with contextlib.suppress(Exception):  # a dead connection may fail to close: dropped anyway
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)

    def receive(self, message: dict[str, Any]) -> None:
        project_id = self.channels.get(message.get("channel"))
        if project_id is None:  # unsubscribed meanwhile
            return
        kind = message.get("type")
        if kind == "subscribe":
            # Listening from now on: what was announced before is read from the change log.
            self.hub.inbox.put_nowait(("catchup", project_id))
            return
        if kind != "message":
            return
        try:
            rows = decode(project_id, message.get("data"))
        except (ValueError, TypeError):
            self.warnings.warn("payload", "realtime: ignored a malformed announcement for project %s", project_id)
            return
        for row in rows:
            self.hub.inbox.put_nowait(("change", row))

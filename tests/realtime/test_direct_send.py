"""A fan-out hands an idle socket its frame directly (no task woken per subscriber); order holds even
when the server's send suspends, and a burst still meets the send-buffer bound."""

from __future__ import annotations

import asyncio

import pytest

from basalt.core.caller import Caller
from basalt.projects.keys import resolve_key
from basalt.realtime.connection import Connection
from basalt.realtime.consumers import RealtimeConsumer

pytestmark = pytest.mark.django_db


def _consumer(project, base_send) -> tuple[RealtimeConsumer, Connection]:
    consumer = RealtimeConsumer()
    consumer.base_send = base_send
    conn = Connection(Caller.for_key(resolve_key(project.publishable)), project.publishable, "websocket")
    conn.send_now = consumer._send_now
    consumer.conn = conn
    return consumer, conn


def test_an_idle_socket_gets_its_frames_from_the_pushing_stack(project):
    sent: list[str] = []

    async def immediate(message):  # daphne's send: a coroutine that never suspends
        sent.append(message["text"])

    consumer, conn = _consumer(project, immediate)

    async def scenario():
        writer = asyncio.ensure_future(consumer._write())
        await asyncio.sleep(0)  # the writer now waits on the empty outbox
        for text in ("a", "b", "c"):
            conn.push_text(text)
        assert sent == ["a", "b", "c"] and conn.outbox.empty()  # no loop turn was needed
        writer.cancel()

    asyncio.run(scenario())


def test_order_holds_when_the_servers_send_suspends(project):
    sent: list[str] = []

    async def slow(message):
        await asyncio.sleep(0.01)
        sent.append(message["text"])

    consumer, conn = _consumer(project, slow)

    async def scenario():
        writer = asyncio.ensure_future(consumer._write())
        await asyncio.sleep(0)
        for text in ("1", "2", "3", "4"):
            conn.push_text(text)
        for _ in range(100):
            if len(sent) == 4:
                break
            await asyncio.sleep(0.01)
        assert sent == ["1", "2", "3", "4"]
        writer.cancel()

    asyncio.run(scenario())


def test_a_burst_past_the_bound_is_still_a_slow_consumer(project, settings):
    settings.REALTIME_SEND_BUFFER = 3
    sent: list[str] = []

    async def immediate(message):
        sent.append(message.get("text"))

    consumer, conn = _consumer(project, immediate)

    async def scenario():
        writer = asyncio.ensure_future(consumer._write())
        await asyncio.sleep(0)
        for n in range(10):
            conn.push_text(str(n))
        assert conn.closed and conn.close_code == 4008
        writer.cancel()

    asyncio.run(scenario())
    assert sent[:3] == ["0", "1", "2"] and "3" not in sent

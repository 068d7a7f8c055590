"""granian under `serve` hands the body to the application through `receive()` as it arrives;
core.request_body.ReceiveStreaming feeds it into the StreamedBody the views read, as daphne's
protocol does: `receive()` is not called while HIGH_WATER bytes wait unread, a disconnect fails the
reader, an early answer drops the rest, and at most `limit` bodies stream at once."""

from __future__ import annotations

import asyncio

import pytest

from basalt.core.request_body import HIGH_WATER, LOW_WATER, STREAM_FROM, ReceiveStreaming, StreamedBody

PIECE = 256 * 1024


class Client:
    """What granian's receive() gives: the body in pieces as they arrive, or a disconnect."""

    def __init__(self):
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.calls = 0

    async def receive(self) -> dict:
        self.calls += 1
        return await self.inbox.get()

    def send(self, data: bytes, more: bool = True) -> None:
        self.inbox.put_nowait({"type": "http.request", "body": data, "more_body": more})

    def hang_up(self) -> None:
        self.inbox.put_nowait({"type": "http.disconnect"})


def scope(length: int | None) -> dict:
    if length is None:
        return {"type": "http", "headers": [(b"host", b"a"), (b"transfer-encoding", b"chunked")]}
    return {"type": "http", "headers": [(b"host", b"a"), (b"content-length", str(length).encode())]}


async def settle() -> None:
    """Let the pump run until it waits (on the client or on the reader): nothing else runs here."""
    for _ in range(1000):
        await asyncio.sleep(0)


def test_small_bodies_are_left_to_the_bridge_and_large_or_chunked_ones_stream():
    async def scenario():
        streaming = ReceiveStreaming(limit=4)
        client = Client()
        assert streaming.start(scope(STREAM_FROM), client.receive) is None
        assert streaming.start({"type": "http", "headers": []}, client.receive) is None
        assert isinstance(streaming.start(scope(STREAM_FROM + 1), client.receive), StreamedBody)
        chunked = streaming.start(scope(None), client.receive)
        assert isinstance(chunked, StreamedBody) and chunked.length is None
        assert streaming.active == 2

    asyncio.run(scenario())


def test_receive_is_not_called_while_high_water_waits_unread():
    async def scenario():
        streaming = ReceiveStreaming(limit=1)
        client = Client()
        total = HIGH_WATER + 8 * PIECE
        body = streaming.start(scope(total), client.receive)
        pieces = total // PIECE
        for n in range(pieces):
            client.send(b"x" * PIECE, more=n < pieces - 1)
        try:
            await settle()
            # Fed up to HIGH_WATER, then no further receive() until the reader takes some.
            assert client.calls == HIGH_WATER // PIECE
            got = await asyncio.to_thread(body.read, HIGH_WATER - LOW_WATER)
            assert len(got) == HIGH_WATER - LOW_WATER
            await settle()
            assert client.calls > HIGH_WATER // PIECE
            rest = await asyncio.to_thread(body.read)
            assert len(got) + len(rest) == total and body.received
            await settle()
            assert streaming.active == 0
        finally:
            body.lost()  # a failed assertion must not leave a reader thread waiting

    asyncio.run(scenario())


def test_a_disconnect_fails_the_reader_and_frees_the_slot():
    async def scenario():
        streaming = ReceiveStreaming(limit=1)
        client = Client()
        body = streaming.start(scope(4 * STREAM_FROM), client.receive)
        assert streaming.start(scope(4 * STREAM_FROM), Client().receive) is None  # the one slot is taken
        client.send(b"y" * PIECE)
        client.hang_up()
        with pytest.raises(ConnectionResetError):
            await asyncio.to_thread(body.read, 2 * PIECE)
        await settle()
        assert streaming.active == 0

    asyncio.run(scenario())


def test_after_an_early_answer_the_rest_is_received_and_dropped_before_the_application_returns():
    async def scenario():
        streaming = ReceiveStreaming(limit=1)
        client = Client()
        total = 16 * PIECE
        body = streaming.start(scope(total), client.receive)
        client.send(b"z" * PIECE)
        await settle()
        body.close()  # the view answered without reading on
        finishing = asyncio.ensure_future(streaming.finish(body))
        await settle()
        assert not finishing.done()  # the application waits while the rest arrives
        for n in range(15):
            client.send(b"z" * PIECE, more=n < 14)
        await asyncio.wait_for(finishing, 5)
        assert client.inbox.empty() and streaming.active == 0

    asyncio.run(scenario())

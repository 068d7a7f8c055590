"""A streamed response under `serve` goes out at the pace the client reads it (core.response_flow):
the bridge sends the next piece only once Twisted's transport has room, and stops reading the
response's source once the client is gone."""

from __future__ import annotations

import asyncio

import pytest

from basalt.core.response_flow import ResponseFlow
from basalt.core.wsgi_bridge import FLOW_EXTENSION, ThreadedWSGIBridge
from tests.foundation.test_wsgi_bridge import http_scope, threads

PIECE = 100 * 1024  # above the bridge's send piece: one body message per piece


class Request:
    """The part of twisted.web's Request the flow uses; `channel` is None once the connection is lost."""

    def __init__(self):
        self.channel = object()
        self.calls: list[str] = []

    def registerProducer(self, producer, streaming):  # noqa: N802 (Twisted's name)
        assert streaming is True
        self.calls.append("register")

    def unregisterProducer(self):  # noqa: N802
        self.calls.append("unregister")


class Source:
    """A streamed response body that records how far it was read and whether it was closed."""

    streaming = True

    def __init__(self, pieces: int):
        self.pieces, self.read, self.closed = pieces, 0, 0

    def __iter__(self):
        for number in range(self.pieces):
            self.read += 1
            yield bytes([number % 256]) * PIECE

    def close(self):
        self.closed += 1


def bridge_for(source: Source) -> ThreadedWSGIBridge:
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return source

    return ThreadedWSGIBridge(threads(1), handler=app)


async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}


def test_the_next_piece_waits_until_the_transport_has_drained():
    source = Source(pieces=6)
    request = Request()
    flow = ResponseFlow(request)
    sent: list[dict] = []

    def bodies() -> list[dict]:
        return [m for m in sent if m["type"] == "http.response.body"]

    async def run():
        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and message["more_body"]:
                flow.pauseProducing()  # what Twisted does when a write passes its 64 KiB buffer

        scope = {**http_scope("/download"), "extensions": {FLOW_EXTENSION: flow}}
        serving = asyncio.create_task(bridge_for(source)(scope, receive, send))
        seen = 0
        while True:
            while len(bodies()) == seen and not serving.done():
                await asyncio.sleep(0.005)
            if serving.done():
                break
            seen = len(bodies())
            await asyncio.sleep(0.02)
            # Paused: nothing more is sent, and no more than one piece is read ahead.
            assert len(bodies()) == seen
            assert source.read <= seen + 1
            flow.resumeProducing()  # the socket took it
        await serving

    asyncio.run(run())
    assert b"".join(m["body"] for m in bodies()) == b"".join(bytes([n]) * PIECE for n in range(6))
    assert bodies()[-1]["more_body"] is False and all(m["more_body"] for m in bodies()[:-1])
    # Twisted wants the producer gone before the request finishes (else it logs an error).
    assert request.calls == ["register", "unregister"]
    assert source.closed == 1


def test_a_client_that_goes_away_stops_the_reading_of_the_source():
    source = Source(pieces=1000)
    request = Request()
    flow = ResponseFlow(request)
    sent: list[dict] = []

    async def run():
        async def send(message):
            sent.append(message)
            bodies = [m for m in sent if m["type"] == "http.response.body"]
            if len(bodies) == 3:
                flow.pauseProducing()
                request.channel = None  # Twisted's Request.connectionLost
                flow.stopProducing()  # the transport, as the connection is lost

        scope = {**http_scope("/download"), "extensions": {FLOW_EXTENSION: flow}}
        await bridge_for(source)(scope, receive, send)

    asyncio.run(run())
    assert source.read <= 5, f"{source.read} pieces read for a client that left after 3"
    assert source.closed == 1
    # The connection is gone: nothing to unregister from (Twisted dropped the channel).
    assert request.calls == ["register"]


def test_a_flow_whose_connection_was_already_lost_refuses_at_once():
    request = Request()
    request.channel = None
    flow = ResponseFlow(request)
    with pytest.raises(ConnectionResetError):
        asyncio.run(flow.drained())
    flow.release()
    assert request.calls == []


def test_a_response_that_is_not_streamed_never_registers_a_producer():
    request = Request()
    flow = ResponseFlow(request)
    sent: list[dict] = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"whole"]

    async def run():
        async def send(message):
            sent.append(message)

        scope = {**http_scope("/"), "extensions": {FLOW_EXTENSION: flow}}
        await ThreadedWSGIBridge(threads(1), handler=app)(scope, receive, send)

    asyncio.run(run())
    assert [m.get("body") for m in sent[1:]] == [b"whole"]
    assert request.calls == []


def test_a_streamed_response_is_sent_in_large_sends_and_the_connection_gets_twisteds_limit_back():
    """Twisted sends at most 128 KiB per reactor turn (SEND_LIMIT) and joins a partly sent piece
    with the next (a copy): while a response streams its transport takes a piece per send."""
    from twisted.internet.abstract import FileDescriptor

    class Transport:
        SEND_LIMIT = FileDescriptor.SEND_LIMIT

    class Channel:
        transport = Transport()

    request = Request()
    request.channel = Channel()
    flow = ResponseFlow(request)
    seen: list[int] = []

    async def run():
        async def send(message):
            if message["type"] == "http.response.body":
                seen.append(Channel.transport.SEND_LIMIT)

        scope = {**http_scope("/download"), "extensions": {FLOW_EXTENSION: flow}}
        await bridge_for(Source(pieces=4))(scope, receive, send)

    asyncio.run(run())
    assert seen[1:-1] and all(limit >= 4 * 1024 * 1024 for limit in seen[1:-1])
    assert Channel.transport.SEND_LIMIT == FileDescriptor.SEND_LIMIT  # the connection's next response


def test_sendfile_sends_the_range_of_the_file_into_the_socket(tmp_path):
    """A local download under `serve` goes from the page cache to the socket by sendfile(2), on the
    event loop, after what Twisted had buffered; a file shorter than its length ends in EOFError."""
    import os
    import socket

    data = os.urandom(3 * 1024 * 1024 + 17)
    source = tmp_path / "f.bin"
    source.write_bytes(data)
    ours, theirs = socket.socketpair()
    ours.setblocking(False)

    class Transport:
        def fileno(self):
            return ours.fileno()

        def abortConnection(self):  # noqa: N802 (Twisted's name)
            ours.shutdown(socket.SHUT_RDWR)

    class Channel:
        transport = Transport()

    request = Request()
    request.channel = Channel()
    received = bytearray()

    async def run(offset: int, count: int):
        flow = ResponseFlow(request)
        loop = asyncio.get_running_loop()
        reading = loop.run_in_executor(None, _read_exactly, theirs, count)
        with source.open("rb") as handle:
            await flow.sendfile(handle.fileno(), offset, count)
        received.extend(await reading)

    asyncio.run(run(1000, len(data) - 1000 - 5))
    assert bytes(received) == data[1000:-5]
    received.clear()
    with pytest.raises(EOFError):
        asyncio.run(run(len(data) - 10, 20))
    ours.close()
    theirs.close()


def _read_exactly(sock, count: int) -> bytes:
    got = bytearray()
    while len(got) < count:
        chunk = sock.recv(1024 * 1024)
        if not chunk:
            break
        got += chunk
    return bytes(got)

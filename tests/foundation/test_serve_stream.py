"""`serve` hands a large body with a Content-Length, or a chunked one, to the application while it arrives
(core.request_body.StreamedBody, started by core.server.EdgeRequest at the end of the headers),
instead of receiving it whole into a temporary file first: bounded memory (the socket is not read
while HIGH_WATER bytes wait), a lost connection fails the reader, an early answer lets the rest of
the body be dropped and the connection go on."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from types import SimpleNamespace

import pytest
from twisted.internet.testing import StringTransport

from basalt.core.request_body import DRAIN_MAX, HIGH_WATER, LOW_WATER, StreamedBody
from basalt.core.server import STREAM_FROM, BodySpoolingQueue, EdgeHTTPChannel, EdgeRequest


class Transport(StringTransport):
    pass


def _channel(streaming_max: int = 1):
    """An EdgeHTTPChannel on a test transport; each request records when the application would
    start and keeps itself in `started`."""
    started: list[EdgeRequest] = []
    log: list[tuple[str, int]] = []

    class Probe(EdgeRequest):
        @staticmethod
        def _call_from_thread(function):
            function()  # no reactor runs here: what it would run on its thread, at once

        def process(self):
            self.request_start = time.time()  # as daphne's process() does
            log.append(("process", self.content.seek(0, 2) if self.streamed is None else -1))
            started.append(self)
            if self.streamed is None:
                self.finish()  # a body received whole: answered at once

    server = SimpleNamespace(
        protocol_connected=lambda request: None,
        protocol_disconnected=lambda request: None,
        streaming=0,
        streaming_max=streaming_max,
        http_timeout=120,
        server_name="",
        log_action=lambda *args: None,
    )
    channel = EdgeHTTPChannel()
    channel.requestFactory = Probe
    channel.factory = SimpleNamespace(server=server, log=lambda request: None)
    channel.makeConnection(Transport())
    return channel, started, log, server


def _head(length: int, path: str = "/up") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {length}\r\n\r\n".encode()


def test_a_large_body_starts_the_application_at_the_headers_and_arrives_as_it_is_read():
    channel, started, log, server = _channel()
    body = os.urandom(3 * STREAM_FROM + 17)
    channel.dataReceived(_head(len(body)))
    # Before any of the body: the application runs, reading a body still to come.
    assert log == [("process", -1)] and server.streaming == 1
    request = started[0]
    assert request.method == b"POST" and request.path == b"/up" and request.streamed.length == len(body)
    got = bytearray()
    channel.dataReceived(body[:STREAM_FROM])
    got += request.streamed.read(STREAM_FROM)
    assert not request.streamed.received
    channel.dataReceived(body[STREAM_FROM:])
    while chunk := request.streamed.read(STREAM_FROM):
        got += chunk
    assert bytes(got) == body and request.streamed.received and server.streaming == 0
    request.finish()
    # The connection goes on with the next request, parsed from where the body ended.
    channel.dataReceived(b"POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    assert log[-1] == ("process", 5) and started[-1].path == b"/small"


def test_the_socket_is_not_read_while_the_reader_lags_by_more_than_high_water():
    channel, started, _log, _server = _channel()
    transport = channel.transport
    piece = os.urandom(STREAM_FROM)
    total = HIGH_WATER + 4 * STREAM_FROM
    channel.dataReceived(_head(total))
    body = started[0].streamed
    sent = 0
    while transport.producerState == "producing":
        channel.dataReceived(piece)
        sent += len(piece)
    # Paused once HIGH_WATER waited unread: the client is held back by TCP, nothing more is held.
    assert sent == HIGH_WATER
    body.read(HIGH_WATER - LOW_WATER - 1)
    assert transport.producerState == "paused"
    body.read(1)
    assert transport.producerState == "producing"


def test_a_connection_lost_mid_body_fails_the_reader_that_waits():
    channel, started, _log, server = _channel()
    channel.dataReceived(_head(4 * STREAM_FROM) + b"x" * STREAM_FROM)
    body = started[0].streamed
    outcome: list[object] = []

    def reader():
        try:
            while body.read(STREAM_FROM):
                pass
            outcome.append("end")
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    channel.connectionLost(Exception("the client hung up"))
    thread.join(5)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], ConnectionResetError)
    assert server.streaming == 0


def test_an_answer_before_the_body_ends_drops_the_rest_and_keeps_the_connection():
    """A refusal (413, a refused type) answered while the client still sends: the rest is received
    and dropped, never parsed as requests, and the client's next request is answered."""
    channel, started, log, _server = _channel()
    rest = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n" + os.urandom(2 * STREAM_FROM)
    channel.dataReceived(_head(len(rest) + 10) + b"0123456789")
    request = started[0]
    request.setResponseCode(413)
    request.write(b'{"error": {"code": "payload_too_large"}}')
    request.finish()
    assert b"413" in channel.transport.value() and channel.transport.connected
    assert request.streamed.closed
    channel.dataReceived(rest)
    assert [entry[0] for entry in log] == ["process"] and len(started) == 1  # nothing from the body
    channel.dataReceived(b"POST /next HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
    assert started[-1].path == b"/next" and log[-1] == ("process", 2)


def test_at_most_streaming_max_bodies_arrive_beside_the_application_at_once():
    """Each streamed body holds a request thread while its client sends: beyond the limit a body is
    received whole first, as before."""
    first, started, _log, server = _channel(streaming_max=1)
    first.dataReceived(_head(2 * STREAM_FROM))
    second = EdgeHTTPChannel()
    second.requestFactory = type(started[0])
    second.factory = first.factory
    second.makeConnection(Transport())
    second.dataReceived(_head(2 * STREAM_FROM) + b"y" * STREAM_FROM)
    assert len(started) == 1 and server.streaming == 1
    second.dataReceived(b"y" * STREAM_FROM)
    assert len(started) == 2 and started[1].streamed is None


def test_a_small_body_with_a_length_is_received_whole_first():
    channel, started, log, _server = _channel()
    channel.dataReceived(_head(STREAM_FROM) + b"z" * STREAM_FROM)
    assert log == [("process", STREAM_FROM)] and started[0].streamed is None


def _chunked_head(path: str = "/up") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def test_a_chunked_body_starts_the_application_at_the_headers_and_arrives_as_it_is_read():
    """Before, twisted.web received a chunked body whole (into a temporary file) before the
    application started: whatever its size, it was on local disk before a byte was hashed."""
    channel, started, log, server = _channel()
    channel.dataReceived(_chunked_head())
    assert log == [("process", -1)] and server.streaming == 1
    body = started[0].streamed
    assert body.length is None
    channel.dataReceived(_chunk(b"abc") + _chunk(b"x" * STREAM_FROM))
    assert body.read(3) == b"abc" and not body.received
    channel.dataReceived(_chunk(b"def") + b"0\r\n\r\n")
    assert body.read() == b"x" * STREAM_FROM + b"def" and body.received and server.streaming == 0
    started[0].finish()
    channel.dataReceived(b"POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    assert log[-1] == ("process", 5)


def test_bad_chunk_framing_is_a_json_400_and_fails_the_reader():
    channel, started, _log, _server = _channel()
    channel.dataReceived(_chunked_head() + _chunk(b"abc"))
    body = started[0].streamed
    assert body.read(3) == b"abc"
    channel.dataReceived(b"zz\r\nnot a chunk\r\n")
    answer = channel.transport.value()
    assert answer.startswith(b"HTTP/1.1 400") and b'"error"' in answer
    assert channel.transport.disconnecting
    channel.connectionLost(Exception("closed"))  # what the real transport does once it has closed
    with pytest.raises(ConnectionResetError):
        body.read(1)


def test_a_chunked_body_answered_early_is_dropped_up_to_drain_max_then_the_connection_closed():
    """A refusal answered while a chunked body still comes: its end is unknown, so draining it
    (what keeps the connection usable) stops at DRAIN_MAX."""
    channel, started, _log, _server = _channel()
    channel.dataReceived(_chunked_head() + _chunk(b"x" * 1024))
    request = started[0]
    request.setResponseCode(413)
    request.write(b'{"error": {"code": "payload_too_large"}}')
    request.finish()
    assert request.streamed.closed and not channel.transport.disconnecting
    piece = _chunk(b"y" * STREAM_FROM)
    for _ in range(DRAIN_MAX // STREAM_FROM):
        channel.dataReceived(piece)
    assert not channel.transport.disconnecting
    channel.dataReceived(piece)
    assert channel.transport.disconnecting


def _body(length: int) -> StreamedBody:
    return StreamedBody(length, lambda: None, lambda: None, lambda function: function())


def test_readline_and_read_follow_file_semantics_across_pieces():
    body = _body(14)
    body.feed(b"ab\ncd")
    body.feed(b"ef\ngh")
    assert body.readline(100) == b"ab\n"
    assert body.readline(2) == b"cd"
    assert body.readline(100) == b"ef\n"
    body.feed(b"ijkl")
    body.complete()
    assert body.read(3) == b"ghi" and body.read() == b"jkl" and body.read(5) == b""


def test_asgi_consumers_get_a_streamed_body_as_it_arrives_then_a_disconnect_if_it_is_cut():
    async def run():
        body = _body(10)
        queue = BodySpoolingQueue(body)
        queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})  # daphne's, ignored
        waiting = asyncio.ensure_future(queue.get())
        await asyncio.sleep(0)
        assert not waiting.done()
        body.feed(b"abc")
        first = await waiting
        body.lost()
        return first, await queue.get(), queue.take_body_file()

    first, cut, taken = asyncio.run(run())
    assert first == {"type": "http.request", "body": b"abc", "more_body": True}
    assert cut == {"type": "http.disconnect"} and taken is None


def test_reading_after_the_application_closed_it_is_an_error_not_a_hang():
    body = _body(10)
    body.close()
    body.feed(b"late")  # dropped
    with pytest.raises(ValueError):
        body.read(1)


def test_a_client_that_stops_sending_is_cut_after_the_time_limit():
    """A streamed body holds a request thread: a client that stops sending mid-body (without
    closing) is cut after daphne's application time limit, and the reader fails."""
    channel, started, _log, _server = _channel()
    channel.dataReceived(_head(8 * STREAM_FROM) + b"x" * STREAM_FROM)
    request = started[0]
    request.streamed.read(STREAM_FROM)
    request.streamed.moved -= 100
    request.check_timeouts()
    assert not channel.transport.disconnecting  # 100 s without bytes: still within 120
    request.streamed.moved -= 100
    request.check_timeouts()
    assert channel.transport.disconnecting


def test_an_application_that_stops_reading_gets_daphnes_503_not_the_client_cut():
    """Time with the socket paused because the application does not read is the application's:
    after the limit it is answered 503 as daphne answers a slow application, and the rest of the
    body is dropped."""
    channel, started, _log, _server = _channel()
    channel.dataReceived(_head(HIGH_WATER + 8 * STREAM_FROM) + b"x" * HIGH_WATER)
    request = started[0]
    assert channel.transport.producerState == "paused"
    request.request_start -= 1000  # daphne's clock, from the headers
    request.streamed.moved -= 100
    request.check_timeouts()
    assert channel.transport.value() == b""  # within the limit
    request.streamed.moved -= 100
    request.check_timeouts()
    assert channel.transport.value().startswith(b"HTTP/1.1 503")
    assert not channel.transport.disconnecting and channel.transport.producerState == "producing"
    assert request.streamed.closed


def test_a_resume_asked_for_before_a_new_pause_does_not_undo_it():
    """The reader asks (from its thread) for the socket to be read again; if the socket was paused
    anew before that runs on the event loop, it stays paused, so memory stays bounded."""
    calls: list[str] = []
    later: list = []
    body = StreamedBody(10 * HIGH_WATER, lambda: calls.append("pause"), lambda: calls.append("resume"), later.append)
    body.feed(b"a" * HIGH_WATER)
    assert calls == ["pause"]
    body.read(HIGH_WATER)  # resume asked for, not run yet
    body.feed(b"b" * HIGH_WATER)  # data still in flight when paused: pause again
    assert calls == ["pause", "pause"]
    for function in later:
        function()
    assert calls == ["pause", "pause"]  # the stale resume did nothing

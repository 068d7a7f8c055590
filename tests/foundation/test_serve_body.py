"""`serve` hands a received request body to the application from the file Twisted wrote it into:
whole to the WSGI bridge (as wsgi.input, no copy), in bounded pieces to ASGI consumers, never
all at once into memory (core.server.BodySpoolingQueue)."""

from __future__ import annotations

import asyncio
import os
import tempfile

from basalt.core.server import BODY_PIECE, BodySpoolingQueue
from basalt.core.wsgi_bridge import BODY_FILE_EXTENSION, ThreadedWSGIBridge
from tests.foundation.test_wsgi_bridge import http_scope, threads

BODY = os.urandom(2 * BODY_PIECE + 123)


def received(data: bytes = BODY):
    """A body as Twisted leaves it: an anonymous temporary file, positioned at its end."""
    handle = tempfile.TemporaryFile()
    handle.write(data)
    return handle


def daphne_puts_its_body(queue: BodySpoolingQueue) -> None:
    """What daphne's process() does after create_application: it finds the body emptied."""
    queue.put_nowait({"type": "http.request", "body": b"", "more_body": False})


def test_asgi_consumers_read_the_body_in_bounded_pieces_then_the_disconnect():
    async def run():
        queue = BodySpoolingQueue(received())
        daphne_puts_its_body(queue)
        messages = [await queue.get()]
        while messages[-1]["more_body"]:
            messages.append(await queue.get())
        queue.put_nowait({"type": "http.disconnect"})
        return messages, await queue.get()

    messages, after = asyncio.run(run())
    assert b"".join(m["body"] for m in messages) == BODY
    assert all(len(m["body"]) <= BODY_PIECE for m in messages) and len(messages) == 3
    assert after == {"type": "http.disconnect"}  # not a second body: Django's ASGI handler asserts that


def test_the_body_file_is_taken_whole_once_and_not_after_a_partial_read():
    async def run():
        queue = BodySpoolingQueue(received())
        taken = queue.take_body_file()
        again = queue.take_body_file()
        other = BodySpoolingQueue(received())
        first = await other.get()
        return taken, again, other.take_body_file(), first

    taken, again, after_partial, first = asyncio.run(run())
    assert taken.read() == BODY and again is None
    assert after_partial is None and first["more_body"] is True
    taken.close()


def test_an_empty_body_is_one_empty_message():
    async def run():
        queue = BodySpoolingQueue(received(b""))
        daphne_puts_its_body(queue)
        first = await queue.get()
        queue.put_nowait({"type": "http.disconnect"})
        return first, await queue.get()

    assert asyncio.run(run()) == (
        {"type": "http.request", "body": b"", "more_body": False},
        {"type": "http.disconnect"},
    )


def test_the_bridge_runs_the_view_on_the_received_file_without_reading_receive():
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ["CONTENT_LENGTH"]
        seen["body"] = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    async def run():
        queue = BodySpoolingQueue(received())
        scope = {**http_scope("/", "POST"), "extensions": {BODY_FILE_EXTENSION: queue.take_body_file}}
        sent = []

        async def receive():
            raise AssertionError("the body was already taken as a file")

        async def send(message):
            sent.append(message)

        await ThreadedWSGIBridge(threads(1), handler=app)(scope, receive, send)
        return sent

    sent = asyncio.run(run())
    assert sent[0]["status"] == 200
    assert seen == {"length": str(len(BODY)), "body": BODY}


def _channel_reading_into(seen: list[tuple[str, int]]):
    """An EdgeHTTPChannel on a test transport whose requests record the transport's read size as
    body pieces arrive and when the request is handed to the application."""
    from types import SimpleNamespace

    from twisted.internet.tcp import Connection
    from twisted.internet.testing import StringTransport

    from basalt.core.server import EdgeHTTPChannel, EdgeRequest

    class Transport(StringTransport):
        bufferSize = Connection.bufferSize  # noqa: N815 (Twisted's name)

    class Probe(EdgeRequest):
        def handleContentChunk(self, data):  # noqa: N802 (Twisted's name)
            seen.append(("body", self.channel.transport.bufferSize))
            super().handleContentChunk(data)

        def process(self):
            seen.append(("process", self.channel.transport.bufferSize))
            self.content.seek(0)
            seen.append(("bytes", len(self.content.read())))
            self.finish()

    channel = EdgeHTTPChannel()
    channel.requestFactory = Probe
    daphne = SimpleNamespace(protocol_connected=lambda request: None, protocol_disconnected=lambda request: None)
    channel.factory = SimpleNamespace(server=daphne, log=lambda request: None)
    channel.makeConnection(Transport())
    return channel


def test_a_large_body_is_read_from_the_socket_in_large_pieces_and_only_while_it_arrives():
    """Twisted's 64 KiB reads made receiving a 1 GiB upload cost 16,384 rounds through its HTTP
    parser; a large body is read in BODY_READ pieces, and the transport is back to Twisted's
    default for the response and the connection's next requests."""
    from twisted.internet.tcp import Connection

    from basalt.core.server import BODY_READ

    seen: list[tuple[str, int]] = []
    channel = _channel_reading_into(seen)
    default = Connection.bufferSize
    body = os.urandom(BODY_READ + 1)
    channel.dataReceived(f"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    channel.dataReceived(b"POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
    assert seen[0] == ("body", BODY_READ)
    assert ("process", default) in seen and ("bytes", len(body)) in seen
    after = seen[seen.index(("bytes", len(body))) + 1 :]
    assert after == [("body", default), ("process", default), ("bytes", 5)]

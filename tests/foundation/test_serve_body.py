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

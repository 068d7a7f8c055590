"""daphne as `manage.py serve` runs it: JSON errors at the HTTP edge, a 414 for long URLs, loud bind failures.

Stock daphne (Twisted) answered what it refused itself outside the API's error contract: an
over-long request line or header block closed the connection without an answer, a malformed
request got a bare `400` (no body, no X-Request-Id), and daphne's own errors were HTML. Twisted
also parsed every form and multipart body itself, a second time, and answered a bare 400 when
it could not, before Django (which has its own, JSON-reported parsing) ever saw the request.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from functools import partial

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from basalt.core.edge import MAX_HEAD_BYTES, MAX_URL_BYTES, new_request_id, raw_http_error
from basalt.core.errors import BasaltError, HeadersTooLarge, UriTooLong
from basalt.core.json import dumps
from basalt.core.middleware import generic_error
from basalt.core.response_flow import ResponseFlow
from basalt.core.wsgi_bridge import BODY_FILE_EXTENSION, FLOW_EXTENSION

# Method, spaces and HTTP version around the request target.
_REQUEST_LINE_EXTRA = 32
# Bytes per socket read while a large request body arrives.
BODY_READ = 1024 * 1024


class EdgeRequest(WebRequest):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django parses bodies (and reports failures as JSON); Twisted must not parse them first.
        self._parsePOSTFormSubmission = False

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        super().gotLength(length)
        if length is None or length > BODY_READ:
            # Twisted reads a socket 64 KiB at a time (the transport's bufferSize) and passes each
            # read through its HTTP parser into the body file: 16,384 rounds per GiB, which made
            # receiving a 1 GiB upload take 0.8-1.0 s here against 0.4 s in 1 MiB reads. Only
            # while a large body arrives: the same attribute bounds the transport's write buffer.
            self.channel.transport.bufferSize = BODY_READ

    def requestReceived(self, command, path, version):  # noqa: N802
        transport = getattr(self.channel, "transport", None)
        if transport is not None and "bufferSize" in vars(transport):
            del transport.bufferSize  # Twisted's default again, for the response and what follows
        super().requestReceived(command, path, version)

    def basic_error(self, status, status_text, body):
        """daphne's own refusals (bad header, bad path, application crash or timeout) as JSON."""
        request_id = new_request_id()
        error = generic_error(status, request_id)
        if status == 400:
            error.message = f"The HTTP request is malformed: {body}."
        payload = dumps(error.payload())
        headers = [(b"Content-Type", b"application/json"), (b"X-Request-Id", request_id.encode())]
        headers += [(name.encode(), value.encode()) for name, value in error.headers.items()]
        self.handle_reply({"type": "http.response.start", "status": status, "headers": headers})
        self.handle_reply({"type": "http.response.body", "body": payload})


class EdgeHTTPChannel(HTTPChannel):
    MAX_LENGTH = MAX_URL_BYTES + _REQUEST_LINE_EXTRA  # any single line: the request line or one header
    totalHeadersSize = MAX_HEAD_BYTES

    def _on_request_line(self) -> bool:
        return bool(getattr(self, "_HTTPChannel__first_line", True))

    def _refuse(self, error: BasaltError) -> None:
        self.transport.write(raw_http_error(error))
        self.loseConnection()

    def _too_large(self) -> None:
        self._refuse(UriTooLong() if self._on_request_line() else HeadersTooLarge())

    def lineLengthExceeded(self, line):
        self._too_large()

    def lineReceived(self, line):
        if self._receivedHeaderSize + len(line) > self.totalHeadersSize:
            self._too_large()
            return
        super().lineReceived(line)

    def _respondToBadRequestAndDisconnect(self):
        self._refuse(BasaltError("The HTTP request is malformed."))


class EdgeHTTPFactory(HTTPFactory):
    def protocol(self):
        # Twisted's HTTPFactory calls self.protocol() for each connection.
        return _GenericHTTPChannelProtocol(EdgeHTTPChannel())

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = EdgeRequest
        return protocol


# Bytes per body message when the application reads a received body through `receive`.
BODY_PIECE = 1024 * 1024


class BodySpoolingQueue(asyncio.Queue):
    """An application's input queue that reads the request body from the file Twisted received it
    into, as the application asks, instead of holding it in memory.

    twisted.web receives a whole body before daphne starts the application (into memory up to
    100 KB, an anonymous temporary file beyond), then daphne's `WebRequest.process()` read that
    file in 8 KiB pieces and `put_nowait` every one into the queue before the application read the
    first (a 256 MiB upload grew the server by 259 MiB). The queue now owns Twisted's file
    (EdgeServer.create_application hands it over; daphne's loop then finds an empty body) and:
    - gives it whole, as a file, to whoever calls `take_body_file()` first (the WSGI bridge, which
      uses it as `wsgi.input`: no copy at all), or
    - serves it through `get()` in BODY_PIECE messages (ASGI consumers), never more at once.
    """

    def __init__(self, body=None):
        super().__init__()
        self._body = body  # Twisted's file, at its start; None once taken or read to the end
        self._owns_body = body is not None
        self._size = 0
        if body is not None:
            self._size = body.seek(0, 2)
            body.seek(0)

    def take_body_file(self):
        """The whole received body as a readable file (the caller closes it), once; None after any
        of it was read through get()."""
        body, self._body = self._body, None
        if body is not None and body.tell() != 0:
            self._body = body
            return None
        return body

    def put_nowait(self, message):
        # daphne's own body messages: the body is served from the file instead.
        if message.get("type") == "http.request" and self._owns_body:
            return
        super().put_nowait(message)

    async def get(self):
        if self._body is not None:
            chunk = self._body.read(BODY_PIECE)
            more = self._body.tell() < self._size
            if not more:
                self._body.close()
                self._body = None
            return {"type": "http.request", "body": chunk, "more_body": more}
        # After the body: only what daphne queues later (http.disconnect).
        return await super().get()


class EdgeServer(Server):
    """daphne's Server with the edge protocol, and bind failures reported instead of swallowed."""

    def __init__(self, *args, on_listening: Callable[[], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.listen_failure: str | None = None
        self._on_listening = on_listening

    @property
    def http_factory(self):
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory):
        # Server.run() builds its HTTPFactory inline; ours takes its place as it is assigned.
        self._http_factory = factory if isinstance(factory, EdgeHTTPFactory) else EdgeHTTPFactory(self)

    def create_application(self, protocol, scope):
        """daphne's own, with the queue reading the body from Twisted's file (BodySpoolingQueue)."""
        assert "application_instance" not in self.connections[protocol]
        body = getattr(protocol, "content", None)
        if body is not None and not body.closed:
            # daphne reads `protocol.content` right after this returns: it finds an empty body.
            protocol.content = io.BytesIO()
        else:
            body = None
        input_queue = BodySpoolingQueue(body)
        extensions = scope.setdefault("extensions", {})
        if body is not None:
            extensions[BODY_FILE_EXTENSION] = input_queue.take_body_file
        if scope.get("type") == "http":
            extensions[FLOW_EXTENSION] = ResponseFlow(protocol)
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope, receive=input_queue.get, send=partial(self.handle_reply, protocol)
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue

    def listen_success(self, port):
        super().listen_success(port)
        if self._on_listening is not None:
            self._on_listening()

    def listen_error(self, failure):
        # daphne logs this and stops, after which run() returns as if the server had been stopped.
        self.listen_failure = failure.getErrorMessage()
        super().listen_error(failure)

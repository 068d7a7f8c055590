"""daphne as `manage.py serve` runs it: JSON errors at the HTTP edge, a 414 for long URLs, loud bind failures.

Stock daphne (Twisted) answered what it refused itself outside the API's error contract: an
over-long request line or header block closed the connection without an answer, a malformed
request got a bare `400` (no body, no X-Request-Id), and daphne's own errors were HTML. Twisted
also parsed every form and multipart body itself, a second time, and answered a bare 400 when
it could not, before Django (which has its own, JSON-reported parsing) ever saw the request.

A large body with a Content-Length, and a chunked one, is handed to the application while it
arrives (EdgeRequest.streamed, core.request_body), not received whole first.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from functools import partial

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from basalt.core.edge import MAX_HEAD_BYTES, MAX_URL_BYTES, REQUEST_LINE_EXTRA, new_request_id, raw_http_error
from basalt.core.errors import BasaltError, HeadersTooLarge, UriTooLong
from basalt.core.json import dumps
from basalt.core.middleware import generic_error
from basalt.core.request_body import STREAM_FROM, STREAM_STALL, StreamedBody
from basalt.core.response_flow import ResponseFlow
from basalt.core.wsgi_bridge import BODY_FILE_EXTENSION, FLOW_EXTENSION

# Bytes per socket read while a large request body arrives.
BODY_READ = 1024 * 1024


class EdgeRequest(WebRequest):
    # A body longer than STREAM_FROM with a Content-Length, or chunked (length None: its size is
    # known only at its end), reaches the application while it arrives (core.request_body), at
    # most `EdgeServer.streaming_max` at once; others are received whole first, into memory up to
    # 100 KB and a temporary file beyond.
    streamed: StreamedBody | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django parses bodies (and reports failures as JSON); Twisted must not parse them first.
        self._parsePOSTFormSubmission = False
        self._cleanup_waits = False  # answered before the whole body came: cleaned up once it has
        self._stream_counted_out = False  # no longer counted in EdgeServer.streaming

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        transport = self.channel.transport
        if (length is None or length > STREAM_FROM) and self._may_stream():
            self.content = io.BytesIO()  # daphne reads it once: empty, the body goes to `streamed`
            self.streamed = StreamedBody(
                length,
                transport.pauseProducing,
                transport.resumeProducing,
                self._call_from_thread,
                cut=transport.loseConnection,
            )
            self.server.streaming += 1
        else:
            super().gotLength(length)
        if length is None or length > BODY_READ:
            # Twisted reads a socket 64 KiB at a time (the transport's bufferSize) and passes each
            # read through its HTTP parser into the body file: 16,384 rounds per GiB, which made
            # receiving a 1 GiB upload take 0.8-1.0 s here against 0.4 s in 1 MiB reads. Only
            # while a large body arrives: the same attribute bounds the transport's write buffer.
            transport.bufferSize = BODY_READ

    @staticmethod
    def _call_from_thread(function: Callable[[], object]) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(function)

    def _may_stream(self) -> bool:
        # A slow client holds a request thread while its body arrives: never all of them.
        if self.requestHeaders.hasHeader(b"upgrade"):
            return False
        return getattr(self.server, "streaming", 0) < getattr(self.server, "streaming_max", 0)

    def start_early(self, command: bytes, path: bytes, version: bytes) -> None:
        """Start the application at the end of the headers (what requestReceived does once the
        whole body is in), for a body that is `streamed`."""
        self.args = {}
        self.method, self.uri, self.clientproto = command, path, version
        self.path = path.split(b"?", 1)[0]
        self.process()

    def handleContentChunk(self, data):  # noqa: N802
        if self.streamed is not None:
            self.streamed.feed(data)
        else:
            super().handleContentChunk(data)

    def _stream_ended(self) -> None:
        if self.streamed is not None and not self._stream_counted_out:
            self._stream_counted_out = True
            self.server.streaming -= 1

    def requestReceived(self, command, path, version):  # noqa: N802
        transport = getattr(self.channel, "transport", None)
        if transport is not None and "bufferSize" in vars(transport):
            del transport.bufferSize  # Twisted's default again, for the response and what follows
        if self.streamed is None:
            super().requestReceived(command, path, version)
            return
        # The whole body is in; the application has run since the headers.
        self._stream_ended()
        self.streamed.complete()
        # The application's time limit (daphne's http_timeout) counts from here, as for a body
        # received whole before the application started.
        self.request_start = time.time()
        if self._cleanup_waits:
            super()._cleanup()

    def _cleanup(self):
        if self.streamed is not None and not self.streamed.received and not self._disconnected:
            # Answered before the whole body came: the rest is received and dropped, then the
            # connection goes on (a client that sends its whole body before reading, as most do,
            # gets the answer; its next request is parsed from where this body ends).
            self.streamed.discard()
            self._cleanup_waits = True
            return
        super()._cleanup()

    def connectionLost(self, reason):  # noqa: N802
        if self.streamed is not None:
            self._stream_ended()
            self.streamed.lost()  # a reader gets ConnectionResetError: the upload is aborted
        super().connectionLost(reason)

    def check_timeouts(self):
        if self.streamed is None or self.streamed.received:
            super().check_timeouts()  # daphne's application time limit, from the end of the body
            return
        waiting = self.streamed.waiting()
        if waiting is None:
            return  # the connection is gone, or the answer is out and the rest is being dropped
        # The body is still arriving, read by the application as it comes.
        idle, held_back = waiting
        if idle <= (self.server.http_timeout or STREAM_STALL):
            return
        if held_back:
            # The application stopped reading (the socket is paused for it): daphne's 503.
            super().check_timeouts()
        else:
            # The client stopped sending without closing: cut it, so that it does not hold a
            # request thread for ever; the reader is told (lost) and the upload aborted.
            transport = getattr(self.channel, "transport", None)
            if transport is not None:
                transport.abortConnection()

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
    MAX_LENGTH = MAX_URL_BYTES + REQUEST_LINE_EXTRA  # any single line: the request line or one header
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

    def allHeadersReceived(self):  # noqa: N802
        super().allHeadersReceived()
        request = self.requests[-1] if self.requests else None
        if getattr(request, "streamed", None) is not None:
            request.start_early(self._command, self._path, self._version)


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
    """An application's input queue that reads the request body from where `serve` puts it, as
    the application asks, instead of holding it in memory.

    - A body that reaches the application while it arrives (a StreamedBody, core.request_body) is
      given whole, as a readable file, to whoever calls `take_body_file()` first (the WSGI bridge:
      `wsgi.input`), or served through `get()` as it arrives (ASGI consumers).
    - Any other body: twisted.web receives it whole before daphne starts the application (into
      memory up to 100 KB, an anonymous temporary file beyond), then daphne's
      `WebRequest.process()` read that file in 8 KiB pieces and `put_nowait` every one into the
      queue before the application read the first (a 256 MiB upload grew the server by 259 MiB).
      The queue owns Twisted's file instead (EdgeServer.create_application hands it over; daphne's
      loop then finds an empty body), and gives it whole to `take_body_file()` (no copy at all)
      or serves it through `get()` in BODY_PIECE messages, never more at once.
    """

    def __init__(self, body=None):
        super().__init__()
        self._body = body  # the body, at its start; None once taken or read to the end
        self._owns_body = body is not None
        self._size = 0
        self._streamed = isinstance(body, StreamedBody)
        if body is not None and not self._streamed:
            self._size = body.seek(0, 2)
            body.seek(0)
        self._read_some = False

    def take_body_file(self):
        """The whole body as a readable file (the caller closes it), once; None after any of it was
        read through get()."""
        if self._read_some:
            return None
        body, self._body = self._body, None
        return body

    def put_nowait(self, message):
        # daphne's own body messages: the body is served from the file or stream instead.
        if message.get("type") == "http.request" and self._owns_body:
            return
        super().put_nowait(message)

    async def get(self):
        if self._body is not None:
            self._read_some = True
            if self._streamed:
                try:
                    chunk, more = await self._body.aread(BODY_PIECE)
                except ConnectionResetError:
                    self._body = None
                    return {"type": "http.disconnect"}
            else:
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
        # Requests whose body reaches the application while it arrives (EdgeRequest.streamed),
        # each holding a request thread as long as its client takes: at most half of them.
        from django.conf import settings

        self.streaming = 0
        self.streaming_max = max(1, getattr(settings, "REQUEST_THREADS", 2) // 2)

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
        body = getattr(protocol, "streamed", None)
        if body is not None:
            pass  # still arriving; `protocol.content` is an empty placeholder
        elif (body := getattr(protocol, "content", None)) is not None and not body.closed:
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

"""daphne as `manage.py serve` runs it: JSON errors at the HTTP edge, a 414 for long URLs, loud bind failures.

Stock daphne (Twisted) answered what it refused itself outside the API's error contract: an
over-long request line or header block closed the connection without an answer, a malformed
request got a bare `400` (no body, no X-Request-Id), and daphne's own errors were HTML. Twisted
also parsed every form and multipart body itself, a second time, and answered a bare 400 when
it could not, before Django (which has its own, JSON-reported parsing) ever saw the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from tempfile import SpooledTemporaryFile

from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.web.http import HTTPChannel, _GenericHTTPChannelProtocol

from basalt.core.edge import MAX_HEAD_BYTES, MAX_URL_BYTES, new_request_id, raw_http_error
from basalt.core.errors import BasaltError, HeadersTooLarge, UriTooLong
from basalt.core.json import dumps
from basalt.core.middleware import generic_error

# Method, spaces and HTTP version around the request target.
_REQUEST_LINE_EXTRA = 32


class EdgeRequest(WebRequest):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django parses bodies (and reports failures as JSON); Twisted must not parse them first.
        self._parsePOSTFormSubmission = False

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


# Request body bytes a connection's queue keeps in memory; the rest of a body waits on disk.
SPOOL_MEMORY_BYTES = 1024 * 1024


class BodySpoolingQueue(asyncio.Queue):
    """An application's input queue that keeps request bodies on disk instead of in memory.

    daphne's `WebRequest.process()` hands the application the whole request body at once: it reads
    Twisted's temporary file and `put_nowait`s every chunk into the queue before the application
    reads the first (a 256 MiB upload grew the server by 259 MiB). Here each chunk is written to a
    spool file as it is put, and read back only when the application asks for it, so a body costs
    at most SPOOL_MEMORY_BYTES of memory however large it is.
    """

    def __init__(self):
        super().__init__()
        self._spool: SpooledTemporaryFile | None = None
        self._write_at = 0
        self._read_at = 0

    def put_nowait(self, message):
        body = message.get("body") if message.get("type") == "http.request" else None
        if body:
            if self._spool is None:
                self._spool = SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES, mode="w+b")
            self._spool.seek(self._write_at)
            self._spool.write(body)
            self._write_at += len(body)
            message = {**message, "body": len(body), "_spooled": True}
        super().put_nowait(message)

    async def get(self):
        message = await super().get()
        if message.pop("_spooled", False):
            self._spool.seek(self._read_at)
            message["body"] = self._spool.read(message["body"])
            self._read_at += len(message["body"])
            if not message.get("more_body") and self._read_at == self._write_at:
                self._spool.close()
                self._spool, self._write_at, self._read_at = None, 0, 0
        return message


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
        """daphne's own, with the body-spooling queue in place of a plain asyncio.Queue."""
        assert "application_instance" not in self.connections[protocol]
        input_queue = BodySpoolingQueue()
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

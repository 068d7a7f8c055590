"""ASGI HTTP served by Django's WSGI handler on a fixed set of threads: one thread hop per request.

Django's ASGI handler runs a synchronous view through asgiref several times per request (request
signals, the middleware chain, response.close), each a round trip between the event loop and a
thread, plus a thread-sensitive context per request. Measured on `GET /api/v1/project` under the
embedded server that machinery cost more than the view itself (bench/README.md). Every Basalt view
outside the realtime area is synchronous, so this bridge reads the body on the event loop (or,
under `serve`, takes it as received or still arriving: core.server), then runs the whole WSGI
request (signals, middleware, view, close) in one call on a borrowed thread.

Like BoundedASGIHandler (whose threads it borrows), at most REQUEST_THREADS requests run Django
code at once (bounding database connections); the rest wait in the event loop without holding a
thread. A streamed response (file downloads) is iterated on the same thread chunk by chunk, so
its connection stays with it until response.close() returns it to the pool.
"""

from __future__ import annotations

import asyncio
import io
import os
import sys
from tempfile import SpooledTemporaryFile

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler

from basalt.core import loop_lane
from basalt.core.request_body import CUTS_REPORTED, StreamedBody

# A streamed response is sent in pieces of about this size, not one send per tiny chunk.
_STREAM_PIECE = 64 * 1024
# The scope extension (set by `serve`, core.server) through which a received body is taken as a file.
BODY_FILE_EXTENSION = "basalt.take_body_file"
# The scope extension (set by `serve` on granian) holding a core.request_body.ReceiveStreaming: a
# large or chunked body is then read by the view while `receive()` hands it over.
RECEIVE_STREAMING_EXTENSION = "basalt.receive_streaming"
# The scope extension (set by `serve`) holding the response's flow control (core.response_flow).
FLOW_EXTENSION = "basalt.response_flow"
# A streamed response whose bytes are a range of a local file may name it here, (path, offset,
# count): under `serve` they are then sent by sendfile(2) (daphne: ResponseFlow.sendfile) or, when
# they are the whole file, by the server from the path (granian: the ASGI `http.response.pathsend`
# extension, which has no range), and the response's iterator is not read; elsewhere the iterator
# is the body as usual.
SENDFILE_ATTRIBUTE = "basalt_sendfile"
PATHSEND = "http.response.pathsend"
SENDFILE = "sendfile"
# The scope extension (set by `serve` on granian over SQLite) holding the event loop's budget in
# milliseconds for the bounded requests of core.loop_lane, answered on the loop's own thread.
LOOP_LANE_EXTENSION = "basalt.loop_lane_ms"
# Set in the environ of every request `serve` runs: files then go out by sendfile(2), never handed
# to a front proxy (files.serving's X-Accel-Redirect, for granian behind Caddy).
EMBEDDED_SERVER = "basalt.embedded_server"


class _Response:
    __slots__ = ("status", "headers", "iterable", "chunks", "file")

    def __init__(self):
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.iterable = None  # what the handler returned, closed exactly once
        self.chunks = None  # an iterator over it, for a streamed response
        self.file = None  # (open file, offset, count) sent by sendfile instead of the iterator

    def start(self, status: str, headers: list[tuple[str, str]], exc_info=None):
        self.status = int(status.split(" ", 1)[0])
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return _no_write


def _no_write(data: bytes) -> None:
    raise RuntimeError("Basalt's views return their body; the WSGI write() callable is not supported")


def build_environ(scope: dict, body) -> dict:
    """The WSGI environ of an ASGI HTTP scope (PEP 3333 "native strings": bytes decoded as latin-1)."""
    script_name = scope.get("root_path", "")
    path = scope["path"]
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("127.0.0.1", 0)
    environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] if server[1] is not None else 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        if name == "CONTENT_TYPE" or name == "CONTENT_LENGTH":
            key = name
        else:
            key = "HTTP_" + name
        if key in environ:
            # Repeated headers fold into one value, cookies with their own separator (RFC 6265).
            environ[key] += ("; " if key == "HTTP_COOKIE" else ",") + value
        else:
            environ[key] = value
    return environ


class ThreadedWSGIBridge:
    def __init__(self, idle_threads: asyncio.Queue, handler: WSGIHandler | None = None):
        """`idle_threads` holds single-thread executors, shared with the ASGI handler of the async
        views so that the two together never hold more connections than there are threads."""
        self.handler = handler or WSGIHandler()
        self._idle = idle_threads

    async def __call__(self, scope, receive, send):
        # Under `serve` the body is in a file Twisted wrote, or still arriving (a large one with a
        # Content-Length, or a chunked one, read by the view as it comes: core.request_body): take
        # it as it is (core.server.BodySpoolingQueue, or fed from granian's receive()) instead of
        # copying it into a spool of our own.
        extensions = scope.get("extensions") or {}
        take_body_file = extensions.get(BODY_FILE_EXTENSION)
        body = take_body_file() if take_body_file is not None else None
        streaming = extensions.get(RECEIVE_STREAMING_EXTENSION)
        if body is None and streaming is not None:
            body = streaming.start(scope, receive)
        loop_budget_ms = extensions.get(LOOP_LANE_EXTENSION)
        length = loop_lane.body_length(scope) if body is None and loop_budget_ms else None
        if length is not None:
            # No body: not even one receive() (a tenth of the event loop's work per get).
            body = await self._read_body(receive) if length else io.BytesIO()
            if body is None:
                return  # the client went away before sending its body
            if await self._answer_on_loop(scope, extensions, send, loop_budget_ms, body):
                return
            body.seek(0)  # the attempt may have read it
        if body is None:
            body = await self._read_body(receive)
        if body is None:
            return  # the client went away before sending its body
        environ = build_environ(scope, body)
        environ[EMBEDDED_SERVER] = True
        if isinstance(body, StreamedBody):
            # Its reads raise when the connection ends before the body does (core.request_body).
            environ[CUTS_REPORTED] = True
            if body.length is not None:
                environ["CONTENT_LENGTH"] = str(body.length)
            else:
                # Chunked: read to its end by the views that stream (core.request_body.unframed_input).
                environ["wsgi.input_terminated"] = True
        else:
            # The real length: a chunked request has no Content-Length, and WSGI reads only that many bytes.
            environ["CONTENT_LENGTH"] = str(body.seek(0, 2))
            body.seek(0)
        # Under `serve`: the pace of the client's reading (core.response_flow); elsewhere the server paces.
        flow = extensions.get(FLOW_EXTENSION)
        idle = self._idle
        executor = await idle.get()
        loop = asyncio.get_running_loop()
        response = _Response()
        try:
            if flow is not None:
                sends_files = SENDFILE if flow.can_sendfile() else None
            else:
                sends_files = PATHSEND if PATHSEND in extensions else None
            chunks, finished = await loop.run_in_executor(executor, self._run, environ, response, sends_files)
            await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
            if response.file is not None:
                if flow is not None:
                    await self._send_file(response.file, flow, send)
                else:
                    # granian opens the path again: a file removed in between gets its own bare 404.
                    await send({"type": PATHSEND, "path": response.file[0].name})
            while response.file is None:
                if finished and flow is not None:
                    flow.release()
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": not finished})
                if finished:
                    break
                # The next piece is made while this one drains into the socket, so the socket
                # does not wait on storage; at most two pieces are held.
                following = loop.run_in_executor(executor, self._more, response)
                try:
                    if flow is not None:
                        await flow.drained()
                finally:
                    chunks, finished = await following
        except (OSError, EOFError):
            pass  # the client disconnected mid-response (or the file was cut short: the connection
            # was closed); _close below still returns the connection
        finally:
            if flow is not None:
                flow.release()
            if response.file is not None:
                response.file[0].close()
            if response.iterable is not None:
                await loop.run_in_executor(executor, self._close, response)
            body.close()
            idle.put_nowait(executor)
        if streaming is not None and isinstance(body, StreamedBody):
            await streaming.finish(body)

    async def _answer_on_loop(self, scope: dict, extensions: dict, send, budget_ms: float, body) -> bool:
        """Answer a bounded request on the event loop's own thread (core.loop_lane); False, with
        nothing sent or written, when it must run again on a request thread."""
        environ = _loop_environ(scope, body)
        response = _Response()
        pauses = None
        while True:
            try:
                with loop_lane.on_the_loop(budget_ms):
                    chunks, finished = self._run(environ, response, PATHSEND if PATHSEND in extensions else None)
                break
            except loop_lane.WaitForTheLock:
                pauses = pauses or loop_lane.retry_delays(loop_lane.lock_wait_seconds())
                pause = next(pauses, None)
                if pause is None:
                    return False
                await asyncio.sleep(pause)  # the loop serves the others meanwhile
                environ, response = _loop_environ(scope, body), _Response()
            except loop_lane.LeaveTheLoop:
                return False
        try:
            await send({"type": "http.response.start", "status": response.status, "headers": response.headers})
            if response.file is not None:
                await send({"type": PATHSEND, "path": response.file[0].name})
            while response.file is None:
                await send({"type": "http.response.body", "body": b"".join(chunks), "more_body": not finished})
                if finished:
                    break
                # A streamed answer (none of the registered routes makes one) goes on where it started.
                with loop_lane.on_the_loop(None):
                    chunks, finished = self._more(response)
        except (OSError, EOFError):
            pass  # the client went away mid-answer
        finally:
            if response.file is not None:
                response.file[0].close()
            if response.iterable is not None:
                with loop_lane.on_the_loop(None):
                    self._close(response)
            body.close()
        return True

    async def _read_body(self, receive):
        body = SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body.close()
                return None
            if message.get("body"):
                body.write(message["body"])
            if not message.get("more_body", False):
                break
        body.seek(0)
        return body

    async def _send_file(self, file, flow, send) -> None:
        handle, offset, count = file
        await send({"type": "http.response.body", "body": b"", "more_body": True})  # the head
        await flow.sendfile(handle.fileno(), offset, count)
        flow.release()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _run(self, environ: dict, response: _Response, sends_files: str | None = None):
        response.iterable = self.handler(environ, response.start)
        if environ["REQUEST_METHOD"] == "HEAD":
            # No body, and a streamed one is not even read. (daphne writes each body message with
            # twisted.web's Request.write called on the class, past the no-op Twisted puts on a
            # HEAD request: a streamed body after its first piece went out, and the client read
            # those bytes as the start of its next answer.)
            self._close(response)
            return [], True
        named = getattr(response.iterable, SENDFILE_ATTRIBUTE, None) if sends_files else None
        if named is not None:
            path, offset, count = named
            try:
                handle = open(path, "rb")  # noqa: SIM115 (closed by __call__)
            except OSError:
                handle = None  # gone since the view looked: its iterator answers as it would have
            if handle is not None:
                if sends_files == SENDFILE or (offset == 0 and os.fstat(handle.fileno()).st_size == count):
                    response.file = (handle, offset, count)
                    return [], False
                handle.close()  # a range: pathsend has none, the iterator sends it
        if _is_whole(response.iterable):
            # The common case: Django's HttpResponse holds its body; close at once (one thread hop).
            chunks = list(response.iterable)
            self._close(response)
            return chunks, True
        response.chunks = iter(response.iterable)
        return self._more(response)

    def _more(self, response: _Response):
        chunks, size = [], 0
        for chunk in response.chunks:
            chunks.append(chunk)
            size += len(chunk)
            if size >= _STREAM_PIECE:
                return chunks, False
        self._close(response)
        return chunks, True

    @staticmethod
    def _close(response: _Response) -> None:
        iterable, response.iterable = response.iterable, None
        close = getattr(iterable, "close", None)
        if close is not None:
            close()  # sends request_finished: the thread's database connection goes back to the pool


def _loop_environ(scope: dict, body) -> dict:
    """The environ of an attempt on the loop, its body read from the start."""
    environ = build_environ(scope, body)
    environ[EMBEDDED_SERVER] = True
    environ["CONTENT_LENGTH"] = str(body.seek(0, 2))
    body.seek(0)
    return environ


def _is_whole(iterable) -> bool:
    return not getattr(iterable, "streaming", False) and not hasattr(iterable, "filelike")

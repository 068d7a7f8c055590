"""A request body handed to the application while it arrives, under `manage.py serve`.

twisted.web receives a whole body before daphne starts the application, so an upload used to be
received into a temporary file first and only then hashed and stored (1 GiB: ~0.4 s receiving,
then ~1 s hashing and writing, one after the other, and the bytes written to local disk twice).
For a large body with a Content-Length, and for any chunked body (no length), `core.server.EdgeRequest`
(daphne) or `ReceiveStreaming` (granian's `receive()`) now starts the application as soon as the
headers are in and feeds the body into a StreamedBody as it comes off the socket; the request thread
reads it like a file (`wsgi.input`), so sha256 and the storage write run while the rest is still
arriving.

Memory stays bounded: once HIGH_WATER bytes wait unread, the socket is no longer read (the client
is held back by TCP) until the reader has taken them below LOW_WATER. A connection lost before the
end makes every read raise ConnectionResetError (an OSError, as a WSGI server's input does), so the
upload is aborted and nothing is stored. When the application is done before reading all of it
(a refusal, or it never reads the body), the rest is received and dropped (`discard`), so the
client reads the answer and the connection stays usable; past DRAIN_MAX dropped bytes the connection
is closed instead (a chunked body has no end known in advance).

Django reads a body only up to its CONTENT_LENGTH, so a chunked one reads as empty unless the view
is given the server's input itself (`unframed_input`). Whether a body that ends early can be told
from one that is complete depends on the server: `serve` raises on a cut or malformed chunked body
(environ CUTS_REPORTED: daphne's protocol reports it, and granian's ASGI interface ends such a body
with `http.disconnect`, below); granian's WSGI interface (production, 2.8.7) reads either as a clean
end of the body (measured).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

HIGH_WATER = 4 * 1024 * 1024
LOW_WATER = 1024 * 1024
# Bodies longer than this (with a Content-Length) are handed to the application as they arrive.
STREAM_FROM = 1024 * 1024
# Seconds a streamed body may stop arriving before the connection is cut.
STREAM_STALL = 120
# Bytes dropped after an early answer before the connection is closed rather than drained further.
DRAIN_MAX = 64 * 1024 * 1024
# environ key, set by `serve`'s WSGI bridge: wsgi.input raises when the body ends before it should
# (a hang-up, or bad chunk framing), so a body without a length that ends cleanly is whole.
CUTS_REPORTED = "basalt.input_reports_cuts"


def sent_chunked(meta: dict[str, Any]) -> bool:
    """A body framed by chunks, without a Content-Length (which would win, RFC 9112 6.3)."""
    return not meta.get("CONTENT_LENGTH") and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()


def unframed_input(request: HttpRequest):
    """The server's input of a chunked request, read to the end of the body; None when the server
    does not promise an end (PEP 3333 allows reading only CONTENT_LENGTH bytes)."""
    if not request.META.get("wsgi.input_terminated"):
        return None
    return request.META["wsgi.input"]


def streams_body(view):
    """Mark a view that reads a chunked body itself, bounded by its own limits, as it arrives;
    other views get a chunked body read into memory up to BASALT_MAX_JSON_BODY (core.middleware)."""
    view.streams_body = True
    return view


def read_chunked_to_end(request: HttpRequest) -> None:
    """Let request.read() go on to the end of a chunked body (Django's stream stops at
    CONTENT_LENGTH, absent here, so at 0 bytes)."""
    source = unframed_input(request)
    if source is not None:
        request._stream = source


class StreamedBody:
    """Fed on the event loop's thread (`feed`, `complete`, `lost`); read on a request thread
    (`read`, blocking) or on the event loop (`aread`)."""

    def __init__(
        self,
        length: int | None,
        pause: Callable[[], None],
        resume: Callable[[], None],
        call_soon_threadsafe: Callable[[Callable[[], None]], object],
        cut: Callable[[], None] | None = None,
    ):
        # The declared Content-Length (what a reader gets in full or fails), None for a chunked body.
        self.length = length
        self._cut = cut  # closes the connection (on the event loop's thread)
        self._dropped = 0
        self._pause, self._resume, self._call_soon = pause, resume, call_soon_threadsafe
        self._cond = threading.Condition()
        self._pieces: deque[memoryview] = deque()
        self._buffered = 0
        self._paused = False
        self.received = False  # every declared byte has arrived
        self._lost = False  # the connection ended first
        self._discarding = False  # nobody will read the rest
        self._waiter: asyncio.Future | None = None
        self.closed = False
        self.moved = time.monotonic()  # when bytes last came in or were read

    # -- the event loop's side (Twisted's callbacks) --

    def feed(self, data: bytes) -> None:
        cut = None
        with self._cond:
            if self._discarding:
                self._dropped += len(data)
                if self._dropped > DRAIN_MAX:
                    # Draining a body nobody reads has its limit too: a chunked one has no end.
                    cut, self._cut = self._cut, None
            else:
                self._append(data)
        if cut is not None:
            cut()
        self._wake()

    def _append(self, data: bytes) -> None:
        """One piece in (the caller holds the lock)."""
        self._pieces.append(memoryview(data))
        self._buffered += len(data)
        self.moved = time.monotonic()
        if self._buffered >= HIGH_WATER and not self._paused:
            self._paused = True
            self._pause()
        self._cond.notify_all()

    def complete(self) -> None:
        with self._cond:
            self.received = True
            self._cond.notify_all()
        self._wake()

    def lost(self) -> None:
        with self._cond:
            if not self.received:
                self._lost = True
            self._cond.notify_all()
        self._wake()

    def discard(self) -> None:
        """Drop what is buffered and whatever still comes (the application is done with it)."""
        with self._cond:
            self._discarding = True
            self.closed = True
            self._pieces.clear()
            self._buffered = 0
            resume, self._paused = self._paused, False
            self._cond.notify_all()
        if resume:
            self._call_soon(self._resume_unless_paused)
        self._call_soon(self._wake)

    close = discard  # the WSGI bridge closes its input when the request is done

    # -- the reader's side --

    def _take(self, size: int) -> bytes:
        """Up to `size` buffered bytes (the caller holds the lock)."""
        parts, want = [], size
        while want > 0 and self._pieces:
            piece = self._pieces[0]
            if len(piece) <= want:
                parts.append(self._pieces.popleft())
                want -= len(piece)
            else:
                parts.append(piece[:want])
                self._pieces[0] = piece[want:]
                want = 0
        taken = size - want
        self._buffered -= taken
        if taken:
            self.moved = time.monotonic()
        if self._paused and self._buffered <= LOW_WATER:
            self._paused = False
            self._call_soon(self._resume_unless_paused)
        if len(parts) == 1:
            # A whole piece as Twisted delivered it: no copy.
            part = parts[0]
            return part.obj if len(part) == len(part.obj) else part.tobytes()
        return b"".join(parts)

    def _resume_unless_paused(self) -> None:
        """On the event loop's thread: read the socket again, unless `feed` paused it anew since
        this was asked for (then a later read asks again)."""
        with self._cond:
            if self._paused:
                return
        self._resume()

    def waiting(self) -> tuple[float, bool] | None:
        """While the body is still expected: (seconds since bytes last came in or were read,
        whether the socket is paused because the reader lags); None once it is complete, lost or
        dropped."""
        with self._cond:
            if self.received or self._lost or self._discarding:
                return None
            return time.monotonic() - self.moved, self._paused

    def _check(self) -> None:
        if self._lost:
            raise ConnectionResetError("the client closed the connection before sending its whole body")
        if self._discarding:
            raise ValueError("read from a closed request body")

    def read(self, size: int = -1) -> bytes:
        """`size` bytes (all the rest for -1), fewer only at the end of the body; blocks until they
        have arrived. ConnectionResetError when the connection is lost first."""
        with self._cond:
            while True:
                self._check()
                if size is None or size < 0:
                    if self.received:
                        return self._take(self._buffered)
                elif self._buffered >= size or self.received:
                    return self._take(min(size, self._buffered))
                self._cond.wait()

    def readline(self, size: int = -1) -> bytes:
        """One line with its b"\\n" (at most `size` bytes), fewer only at the end of the body."""
        limit = None if size is None or size < 0 else size
        with self._cond:
            while True:
                self._check()
                seen = 0
                for piece in self._pieces:
                    span = piece if limit is None else piece[: limit - seen]
                    end = bytes(span).find(b"\n")
                    if end >= 0:
                        return self._take(seen + end + 1)
                    seen += len(span)
                    if limit is not None and seen >= limit:
                        return self._take(limit)
                if self.received:
                    return self._take(self._buffered)
                self._cond.wait()

    async def aread(self, size: int) -> tuple[bytes, bool]:
        """(up to `size` bytes, whether more follow), for ASGI consumers on the event loop."""
        while True:
            with self._cond:
                self._check()
                if self._buffered or self.received:
                    chunk = self._take(min(size, self._buffered))
                    return chunk, bool(self._buffered) or not self.received
                self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def body_framing(headers) -> tuple[bool, int | None]:
    """(whether the request has a body to stream, its declared length or None when chunked), from
    an ASGI scope's headers; the server has already refused conflicting or malformed framing."""
    length, chunked = None, False
    for name, value in headers:
        name = name.lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"upgrade":
            return False, None
    if length is not None:
        return length > STREAM_FROM, length
    return chunked, None


class ReceiveStreaming:
    """StreamedBody fed from an ASGI server's `receive()` that hands the body over as it arrives
    (granian under `serve`: pieces as they come off the socket; a hang-up or bad chunk framing is
    an `http.disconnect`, never a clean end, measured on 2.8.7 and 2.8.9).

    The same contract as under daphne (core.server.EdgeRequest): the application starts at the end
    of the headers, at most `limit` bodies stream at once (each holds a request thread as long as
    its client takes), `receive()` is not called while HIGH_WATER bytes wait unread (the server
    then stops reading the socket: TCP holds the client back), a body that stops arriving for
    STREAM_STALL seconds is cut, and after an early answer the rest is received and dropped, up
    to DRAIN_MAX. Cutting here is letting go of `receive()`: the server then closes the
    connection once the answer is out, as it does for any body the application left unread."""

    def __init__(self, limit: int):
        self.limit = limit
        self.active = 0
        self._pumps: dict[StreamedBody, asyncio.Task] = {}

    def start(self, scope: dict, receive) -> StreamedBody | None:
        """A StreamedBody for this request's body, fed from now on; None to receive it whole."""
        wanted, length = body_framing(scope.get("headers", ()))
        if not wanted or self.active >= self.limit:
            return None
        loop = asyncio.get_running_loop()
        flowing = asyncio.Event()
        flowing.set()
        stopped = []
        body = StreamedBody(
            length,
            flowing.clear,
            flowing.set,
            loop.call_soon_threadsafe,
            cut=lambda: (stopped.append(True), flowing.set()),
        )
        self.active += 1
        # Held until it ends: the loop keeps only weak references to tasks.
        self._pumps[body] = pump = loop.create_task(self._pump(receive, body, flowing, stopped))
        pump.add_done_callback(lambda _: self._pumps.pop(body, None))
        return body

    async def finish(self, body: StreamedBody) -> None:
        """Once the answer is out (the body closed): wait while the rest is received and dropped.
        granian closes the connection after an answer whose application returned before the body
        ended (measured, 2.8.9), so the application returns only once the pump is done."""
        pump = self._pumps.get(body)
        if pump is not None:
            await pump

    async def _pump(self, receive, body: StreamedBody, flowing: asyncio.Event, stopped: list) -> None:
        try:
            while True:
                await flowing.wait()
                if stopped:
                    return
                try:
                    message = await asyncio.wait_for(receive(), STREAM_STALL)
                except TimeoutError:
                    message = {"type": "http.disconnect"}  # the client stopped sending without closing
                if message["type"] != "http.request":
                    body.lost()  # a reader gets ConnectionResetError: the upload is aborted
                    return
                if message.get("body"):
                    body.feed(message["body"])
                if not message.get("more_body", False):
                    body.complete()
                    return
        finally:
            self.active -= 1

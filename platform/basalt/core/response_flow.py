"""Backpressure for streamed responses under `serve`: send the next piece when the client took the last.

daphne writes every `http.response.body` message into Twisted's transport at once, and Twisted
buffers whatever the socket does not take. A download to a client reading slower than the
application produced grew the server by the whole response and more (a 512 MiB file to a slow
reader: +1 GiB, the buffer copied as it was joined), and a client that went away mid-download
left the application reading the rest of the file from storage for nobody.

ResponseFlow is the request's streaming producer in Twisted's terms: the transport pauses it when
its buffer passes 64 KiB and resumes it when the buffer has drained into the socket, and stops it
when the connection is lost. The WSGI bridge awaits `drained()` after each piece it sends, so at
most one piece (and what the kernel's socket buffer holds) waits per download.

While a response streams, its transport sends up to SEND_LIMIT per reactor turn instead of
Twisted's 128 KiB: a 1 MiB piece went out in 8 `send` calls, each a turn of the event loop, and
whenever a piece was still partly unsent Twisted joined the rest with the next one (a copy of
both). With the limit above the piece size each piece is one `send` from the bytes the storage
read returned (the socket takes what its buffer holds; the rest is sent on the next turn).
"""

from __future__ import annotations

import asyncio
import os

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

# Bytes a streaming response's transport may send per reactor turn (Twisted's own: 128 KiB).
SEND_LIMIT = 8 * 1024 * 1024


@implementer(IPushProducer)
class ResponseFlow:
    def __init__(self, request):
        self.request = request  # daphne's WebRequest (a twisted.web Request)
        self.registered = False
        self.paused = False
        self.gone = False
        self._waiter: asyncio.Future | None = None
        self._sending: tuple[asyncio.AbstractEventLoop, int, asyncio.Future] | None = None

    async def drained(self) -> None:
        """Return once the transport has room for more; ConnectionResetError once the client is gone."""
        if not self.registered and not self.gone:
            if getattr(self.request, "channel", None) is None:  # the connection was already lost
                self.gone = True
            else:
                self.request.registerProducer(self, True)
                self.registered = True
                transport = getattr(self.request.channel, "transport", None)
                if transport is not None:
                    transport.SEND_LIMIT = SEND_LIMIT
        while self.paused and not self.gone:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.gone:
            raise ConnectionResetError("the client closed the connection")

    def can_sendfile(self) -> bool:
        """A plain TCP connection (a TLS transport encrypts what it is given: no sendfile there)."""
        from twisted.internet import tcp

        return isinstance(getattr(getattr(self.request, "channel", None), "transport", None), tcp.Connection)

    async def sendfile(self, source: int, offset: int, count: int) -> None:
        """Send `count` bytes of the open file `source` from `offset` by sendfile(2): from the page
        cache into the socket, no copy through Python (a streamed local download read each piece
        into Python and wrote it out again: two copies and a thread hop per piece, 0.25-0.57x a
        plain sendfile server). Runs on the event loop's thread, as Twisted's own writes do, and
        only once Twisted has sent everything before (the response head): the socket is written by
        one of them at a time. ConnectionResetError once the client is gone, EOFError when the file
        is shorter than `count` (the connection is then cut, so the client sees a short body)."""
        await self.drained()
        transport = self.request.channel.transport
        from twisted.internet import reactor

        while transport in reactor.getWriters() and not self.gone:
            await asyncio.sleep(0.001)  # the head still in Twisted's buffer
        if self.gone:
            raise ConnectionResetError("the client closed the connection")
        loop = asyncio.get_running_loop()
        fd = transport.fileno()
        done = loop.create_future()
        position, end = offset, offset + count

        def writable() -> None:
            nonlocal position
            try:
                sent = os.sendfile(fd, source, position, min(SEND_LIMIT, end - position))
            except BlockingIOError:
                return
            except OSError as exc:
                self._stop_sending(ConnectionResetError(str(exc)))
                return
            if sent == 0:
                self._stop_sending(EOFError("the file ended before its length"))
                transport.abortConnection()
                return
            position += sent
            if position >= end:
                self._stop_sending(None)

        self._sending = (loop, fd, done)
        loop.add_writer(fd, writable)
        try:
            await done
        finally:
            self._stop_sending(ConnectionResetError("the download was abandoned"))

    def _stop_sending(self, error: BaseException | None) -> None:
        """Take the sendfile writer off the socket; must run before Twisted closes it (stopProducing
        is called first), or a later connection given the same descriptor would get its writer."""
        if self._sending is None:
            return
        loop, fd, done = self._sending
        self._sending = None
        loop.remove_writer(fd)
        if not done.done():
            done.set_exception(error) if error is not None else done.set_result(None)

    def release(self) -> None:
        """Before the response's last message: Twisted wants its producer gone when a request finishes."""
        if self.registered:
            self.registered = False
            channel = getattr(self.request, "channel", None)
            if channel is not None:
                self.request.unregisterProducer()
                transport = getattr(channel, "transport", None)
                if transport is not None and "SEND_LIMIT" in vars(transport):
                    del transport.SEND_LIMIT  # Twisted's default again for what follows on the connection

    # IPushProducer, called by Twisted on the event loop's thread
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._wake()

    def stopProducing(self) -> None:
        self.gone = True
        self._stop_sending(ConnectionResetError("the client closed the connection"))
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

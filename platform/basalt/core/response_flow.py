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
"""

from __future__ import annotations

import asyncio

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer


@implementer(IPushProducer)
class ResponseFlow:
    def __init__(self, request):
        self.request = request  # daphne's WebRequest (a twisted.web Request)
        self.registered = False
        self.paused = False
        self.gone = False
        self._waiter: asyncio.Future | None = None

    async def drained(self) -> None:
        """Return once the transport has room for more; ConnectionResetError once the client is gone."""
        if not self.registered and not self.gone:
            if getattr(self.request, "channel", None) is None:  # the connection was already lost
                self.gone = True
            else:
                self.request.registerProducer(self, True)
                self.registered = True
        while self.paused and not self.gone:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.gone:
            raise ConnectionResetError("the client closed the connection")

    def release(self) -> None:
        """Before the response's last message: Twisted wants its producer gone when a request finishes."""
        if self.registered:
            self.registered = False
            if getattr(self.request, "channel", None) is not None:
                self.request.unregisterProducer()

    # IPushProducer, called by Twisted on the event loop's thread
    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._wake()

    def stopProducing(self) -> None:
        self.gone = True
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

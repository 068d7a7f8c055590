"""Django's ASGI handler on a fixed set of request threads, so database connections stay bounded.

Django's ASGIHandler wraps every request in a new ThreadSensitiveContext, and asgiref serves each
such context with a brand-new single-thread executor: one new thread per request. Django keeps
database connections per thread, so every request opened a PostgreSQL connection of its own, and
with persistent connections it stayed open after its thread was gone; a burst of requests left
dozens of idle connections and finally "too many clients" for the whole cluster.

Here a request borrows one of `threads` long-lived single-thread executors instead. At most that
many requests run Django code at once; the others wait in the event loop (costing no thread, no
connection and no pool timeout), and each thread's connection goes back to the pool when its
request finishes. The body is read before a thread is borrowed, so a slow upload holds no thread.
A long-lived stream (an async streaming view, e.g. realtime's SSE) would hold its borrowed thread
for its whole life, so a few open streams left no thread for anything else (every other request
waited for ever). Paths registered in STREAM_PATHS run on one shared stream thread instead: their
views are async and do their database work elsewhere (realtime's `in_thread`), so that thread only
runs their short sync steps (sync middleware, request_started/finished) one after another, and holds
at most one pool connection, briefly.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar

from asgiref.sync import ThreadSensitiveContext
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler

from basalt.core.edge import new_request_id
from basalt.core.middleware import REQUEST_ID_HEADER, generic_error, json_error

# The body read in __call__, handed to Django's handle() through read_body().
_read_ahead: ContextVar = ContextVar("basalt_read_ahead_body", default=None)


# Areas register the paths of their long-lived streaming responses here (AppConfig.ready).
STREAM_PATHS: list[re.Pattern[str]] = []


def is_stream(path: str) -> bool:
    return any(pattern.match(path) for pattern in STREAM_PATHS)


class BoundedASGIHandler(ASGIHandler):
    def __init__(self, threads: int):
        super().__init__()
        if threads < 1:
            raise ValueError("an ASGI handler needs at least one request thread")
        self.threads = threads
        # Shared with the WSGI bridge that serves the synchronous views (basalt.asgi).
        self.idle_threads: asyncio.Queue[ThreadPoolExecutor] = asyncio.Queue()
        for number in range(threads):
            self.idle_threads.put_nowait(ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{number}"))
        self._streams = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streams")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # Django refuses it with its own message
        try:
            body = await super().read_body(receive)
        except RequestAborted:
            return
        token = _read_ahead.set(body)
        if is_stream(scope.get("path", "")):
            try:
                async with ThreadSensitiveContext(executor=self._streams):
                    await self.handle(scope, receive, send)
            finally:
                _read_ahead.reset(token)
            return
        executor = await self.idle_threads.get()
        try:
            # The same thread for the whole request: middleware, view and response.close(), which
            # sends request_finished and so returns that thread's connection to the pool.
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.idle_threads.put_nowait(executor)
            _read_ahead.reset(token)

    def create_request(self, scope, body_file):
        """Django answers a request it cannot even build (undecodable, too large) outside all middleware:
        give that answer the JSON error and a request id like every other."""
        request, refusal = super().create_request(scope, body_file)
        if refusal is not None:
            request_id = new_request_id()
            refusal = json_error(generic_error(refusal.status_code, request_id))
            refusal[REQUEST_ID_HEADER] = request_id
        return request, refusal

    async def read_body(self, receive):
        body = _read_ahead.get()
        if body is None:
            return await super().read_body(receive)
        _read_ahead.set(None)
        return body

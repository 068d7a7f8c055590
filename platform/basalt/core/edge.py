"""Limits and answers at the HTTP edge, shared by `serve` (on daphne and on granian) and the middleware (granian).

Whatever server runs Basalt, a request it refuses before Django sees it still gets the API's JSON
error with an X-Request-Id, and the same URL limit applies everywhere.
"""

from __future__ import annotations

import os
import threading
from http import HTTPStatus

from basalt.core.errors import BasaltError, HeadersTooLarge, UriTooLong
from basalt.core.json import dumps

# Longest request target (path and query) accepted. granian (production) refuses 65,535 bytes and
# more with its own bare 414; below that every server answers alike. A `where` with 1,000 `$in` ids
# fits; longer queries belong in a POST body (batch).
MAX_URL_BYTES = 65_000
# Request line plus every header line.
MAX_HEAD_BYTES = MAX_URL_BYTES + 32 * 1024
# Method, spaces and HTTP version around the request target.
REQUEST_LINE_EXTRA = 32


# Request ids drawn from the OS's random source at a time: each os.urandom is a system call that
# lets go of the GIL, and on `serve`'s saturated event loop taking it back cost 4% of the loop's
# time on a get (py-spy, bench/README.md 2026-12-07 19:00). The ids are as random as before.
_IDS_PER_DRAW = 256
_ID_HEX = 32


class _Drawn(threading.local):
    hex = ""
    at = 0


_drawn = _Drawn()


def _draw_again_after_fork() -> None:
    # A child must not hand out the ids its parent drew (and may hand out itself).
    global _drawn
    _drawn = _Drawn()


os.register_at_fork(after_in_child=_draw_again_after_fork)


def new_request_id() -> str:
    """32 random hex digits, as uuid4().hex; each id is handed out once."""
    drawn = _drawn
    at = drawn.at
    if at >= len(drawn.hex):
        drawn.hex, at = os.urandom(_IDS_PER_DRAW * _ID_HEX // 2).hex(), 0
    drawn.at = at + _ID_HEX
    return drawn.hex[at : at + _ID_HEX]


def url_too_long(path: str, query_string: str) -> bool:
    return len(path.encode("utf-8", "surrogateescape")) + 1 + len(query_string) > MAX_URL_BYTES


def over_edge_limits(scope: dict) -> BasaltError | None:
    """The 414 or 431 for an ASGI request past the URL or head limit (what daphne's protocol
    refuses while parsing, for a server that hands such a request to the application)."""
    query = scope.get("query_string") or b""
    target = len(scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape"))
    target += len(query) + 1 if query else 0
    if target > MAX_URL_BYTES:
        return UriTooLong()
    head = target + REQUEST_LINE_EXTRA + sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
    return HeadersTooLarge() if head > MAX_HEAD_BYTES else None


def raw_http_error(error: BasaltError, request_id: str | None = None) -> bytes:
    """A complete HTTP/1.1 response for a request refused before any application ran; closes the connection."""
    body = dumps(error.payload())
    reason = HTTPStatus(error.status).phrase
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Request-Id": request_id or new_request_id(),
        "Connection": "close",
        **error.headers,
    }
    head = f"HTTP/1.1 {error.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body

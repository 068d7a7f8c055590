"""granian as `manage.py serve` runs it: what core/server.py adds to daphne, as ASGI glue around the application.

granian parses HTTP in Rust (hyper) and hands the application a scope whose body arrives through
`receive()` as it comes off the socket. What Basalt needs on top, per request:

- the URL and head limits of core.edge with their JSON 414/431, for what hyper lets through
  (it refuses targets of 65,535 bytes and more, and more than 100 header lines, with its own bare
  414/431; garbage that is not HTTP gets its bare 400: none of that reaches any application);
- a large or chunked body read by the view while it arrives (core.request_body.ReceiveStreaming);
- WebSocket sends awaited by a task (SEND_AWAITED_ONLY, below);
- on SQLite, bounded document requests answered on the event loop itself (core.loop_lane, LOOP_LANE_EXTENSION).

Local files go out through the ASGI `http.response.pathsend` extension (core.wsgi_bridge), which
granian advertises in every HTTP scope.
"""

from __future__ import annotations

from basalt.core.edge import new_request_id, over_edge_limits
from basalt.core.errors import BasaltError
from basalt.core.json import dumps
from basalt.core.request_body import ReceiveStreaming
from basalt.core.wsgi_bridge import LOOP_LANE_EXTENSION, RECEIVE_STREAMING_EXTENSION


def edge_application(application, streaming_limit: int, loop_budget_ms: int = 0):
    """The application wrapped for granian: `streaming_limit` bodies at most stream at once;
    `loop_budget_ms` (0: none) lets single-document requests run on the event loop (core.loop_lane)."""
    from basalt.realtime.consumers import SEND_AWAITED_ONLY

    streaming = ReceiveStreaming(streaming_limit)

    async def app(scope, receive, send):
        refusal = over_edge_limits(scope)
        if refusal is not None:
            return await _refuse(scope, send, refusal)
        extensions = dict(scope.get("extensions") or {})
        if scope["type"] == "http":
            extensions[RECEIVE_STREAMING_EXTENSION] = streaming
            if loop_budget_ms:
                extensions[LOOP_LANE_EXTENSION] = loop_budget_ms
        else:
            # granian's WebSocket `send` returns an awaitable of its own, not a coroutine: the
            # realtime consumer must not step it on the caller's stack (realtime.consumers._send_now),
            # where it failed and, with the awaitable left unawaited, sent the message only as a side effect.
            extensions[SEND_AWAITED_ONLY] = True
        scope["extensions"] = extensions
        return await application(scope, receive, send)

    return app


async def _refuse(scope: dict, send, error: BasaltError) -> None:
    """The JSON error, on a plain request and on a WebSocket handshake alike (granian's
    `websocket.http.response` extension answers the upgrade request with it)."""
    headers = [
        (b"content-type", b"application/json"),
        (b"x-request-id", new_request_id().encode()),
        (b"connection", b"close"),
        *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in error.headers.items()),
    ]
    prefix = "http" if scope["type"] == "http" else "websocket.http"
    await send({"type": f"{prefix}.response.start", "status": error.status, "headers": headers})
    await send({"type": f"{prefix}.response.body", "body": dumps(error.payload())})

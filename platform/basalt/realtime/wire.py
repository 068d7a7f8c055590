"""A text frame written straight to a daphne WebSocket's socket, when nothing is queued before it.

Profiled on a fan-out to 2,000 sockets, most of the server's time per delivery was not the
engine's but the transport's: daphne → autobahn (frame built per socket, debug-log arguments
formatted per socket) → twisted, whose `write` only buffers and registers the socket with the
selector (an `epoll_ctl` and Python selector bookkeeping), then sends on the next loop turn and
deregisters it (a second `epoll_ctl`). So nothing reached any client before the whole fan-out had
been queued, and each delivery cost three system calls and three trips through the selector.

Here a frame is encoded once per message text (`shared_frames`: every subscriber that gets the same
text gets the same bytes; server frames are not masked, RFC 6455 §5.1) and sent with one
`socket.send` when the connection is open, uncompressed, and neither autobahn nor twisted holds
anything unsent for it. What the kernel does not take at once goes to twisted's own buffer, so
everything written after it (by this path or autobahn's) queues behind it: order holds. Any other
case (TLS, permessage-deflate, a closing handshake, a server other than daphne) answers False and
the caller takes the ordinary path.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

logger = logging.getLogger("basalt.realtime")

_local = threading.local()  # one hub (one event loop) per thread: a fan-out's cache is its thread's


def encode(text: str) -> bytes:
    """One unmasked, unfragmented text frame (what autobahn sends for `sendMessage(text)`)."""
    payload = text.encode()
    size = len(payload)
    if size <= 125:
        header = bytes((0x81, size))
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


@contextmanager
def shared_frames() -> Iterator[None]:
    """Within this block (one change's fan-out) each distinct text is encoded once, whatever the
    number of sockets it goes to; the cache ends with the block, so it never outlives the change."""
    outer = getattr(_local, "frames", None)
    _local.frames = {} if outer is None else outer
    try:
        yield
    finally:
        _local.frames = outer


def frame(text: str) -> bytes:
    frames: dict[str, bytes] | None = getattr(_local, "frames", None)
    if frames is None:
        return encode(text)
    found = frames.get(text)
    if found is None:
        found = frames[text] = encode(text)
    return found


_PROTOCOL = (
    "state",
    "STATE_OPEN",
    "send_queue",
    "_perMessageCompress",
    "send_state",
    "SEND_STATE_GROUND",
    "transport",
    "maxMessagePayloadSize",
    "autoFragmentSize",
)
_TRANSPORT = ("TLS", "connected", "disconnecting", "_tempDataBuffer", "dataBuffer", "offset", "socket", "write")


class DirectWire:
    """The socket under one daphne WebSocket connection, for frames sent from the fan-out's stack."""

    __slots__ = ("protocol", "server")

    def __init__(self, server: Any, protocol: Any):
        self.server = server
        self.protocol = protocol

    @classmethod
    def of(cls, send: Any) -> DirectWire | None:
        """The wire under an ASGI `send`, when that is daphne's (`partial(Server.handle_reply,
        protocol)`) over plain TCP; None otherwise (another server, middleware in between)."""
        if not isinstance(send, partial) or len(send.args) != 1 or send.keywords:
            return None
        server = getattr(send.func, "__self__", None)
        protocol = send.args[0]
        if getattr(send.func, "__name__", "") != "handle_reply" or not hasattr(server, "connections"):
            return None
        transport = getattr(protocol, "transport", None)
        # Everything `send` reads, checked once here (tests/realtime/test_wire.py pins the names):
        # a server version without one of them takes the ordinary path, never fails in a fan-out.
        if not all(hasattr(protocol, name) for name in _PROTOCOL) or not all(
            hasattr(transport, name) for name in _TRANSPORT
        ):
            return None
        return cls(server, protocol)

    def send(self, text: str) -> bool:
        """Write `text` as one frame now; False (nothing written) when the ordinary path must."""
        protocol = self.protocol
        if (
            protocol.state != protocol.STATE_OPEN
            or protocol.send_queue
            or protocol._perMessageCompress is not None
            or protocol.send_state != protocol.SEND_STATE_GROUND
        ):
            return False
        transport = protocol.transport
        if (
            transport is None
            or transport.TLS
            or not transport.connected
            or transport.disconnecting
            or transport._tempDataBuffer
            or len(transport.dataBuffer) != transport.offset
        ):
            return False
        details = self.server.connections.get(protocol)
        if details is None or details.get("disconnected"):  # as daphne's handle_reply decides
            return False
        data = frame(text)
        limit = protocol.maxMessagePayloadSize
        if 0 < limit < len(data) or 0 < protocol.autoFragmentSize < len(data):
            return False  # autobahn refuses or fragments it: let it
        try:
            sent = transport.socket.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return False  # the socket is failing: twisted's path notices and closes it
        if sent < len(data):
            # The kernel's buffer is full: twisted keeps the rest and sends it when the socket is
            # writable; anything written after this sees that buffer and queues behind it.
            transport.write(data[sent:])
        return True

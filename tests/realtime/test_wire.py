"""wire.py: the frame written straight to a daphne socket, and every case where it must not be."""

from __future__ import annotations

import socket
from functools import partial

import pytest
from websockets.frames import Frame, Opcode

from basalt.realtime import wire


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 300_000])
def test_a_frame_is_what_an_independent_encoder_makes(size):
    text = ("é" * size)[:size] if size < 1000 else "x" * size  # multi-byte characters too
    assert wire.encode(text) == Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def test_within_one_fan_out_a_text_is_framed_once():
    with wire.shared_frames():
        first = wire.frame("same text for 2,000 sockets")
        assert wire.frame("same text for 2,000 sockets") is first
        assert wire.frame("another subscriber's text") is not first
    assert wire.frame("same text for 2,000 sockets") is not first  # nothing kept after the change


class Transport:
    """What DirectWire reads of twisted's tcp.Server, over a real (non-blocking) socket."""

    TLS = False

    def __init__(self, sock: socket.socket):
        self.socket = sock
        self.connected = 1
        self.disconnecting = False
        self._tempDataBuffer: list[bytes] = []
        self.dataBuffer = b""
        self.offset = 0

    def write(self, data: bytes) -> None:  # twisted: buffer, send when writable
        self._tempDataBuffer.append(data)


class Protocol:
    STATE_OPEN, STATE_CLOSING, SEND_STATE_GROUND = 1, 2, 0

    def __init__(self, transport):
        self.state = self.STATE_OPEN
        self.send_queue: list = []
        self._perMessageCompress = None
        self.send_state = self.SEND_STATE_GROUND
        self.transport = transport
        self.maxMessagePayloadSize = 1024 * 1024
        self.autoFragmentSize = 0


class Server:
    def __init__(self):
        self.connections: dict = {}

    async def handle_reply(self, protocol, message):  # daphne's signature; never reached here
        raise AssertionError("the ordinary path was taken")


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def _wire(ours):
    server, protocol = Server(), Protocol(Transport(ours))
    server.connections[protocol] = {}
    found = wire.DirectWire.of(partial(server.handle_reply, protocol))
    assert found is not None
    return found, server, protocol


def _read(sock: socket.socket) -> bytes:
    out = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            return out
        if not chunk:
            return out
        out += chunk


def test_an_open_idle_connection_gets_the_frame_on_its_socket(pair):
    ours, theirs = pair
    direct, _server, protocol = _wire(ours)
    assert direct.send('{"op":"event"}')
    assert _read(theirs) == wire.encode('{"op":"event"}')
    assert protocol.transport._tempDataBuffer == []


def test_what_the_kernel_does_not_take_waits_in_twisteds_buffer_and_everything_after_queues_behind_it(pair):
    ours, theirs = pair
    direct, _server, protocol = _wire(ours)
    big = "x" * (8 * 1024 * 1024)  # past any socket buffer: the send is partial
    protocol.maxMessagePayloadSize = 0
    assert direct.send(big)
    tail = protocol.transport._tempDataBuffer
    assert len(tail) == 1 and 0 < len(tail[0]) < len(wire.encode(big))
    assert not direct.send("after")  # twisted holds bytes for this socket: the ordinary path, in order
    assert (_read(theirs) + tail[0]) == wire.encode(big)


@pytest.mark.parametrize(
    "case",
    ["closing", "autobahn_queue", "compressed", "fragmenting", "tls", "twisted_buffer", "disconnected", "too_big"],
)
def test_every_other_case_takes_the_ordinary_path_and_writes_nothing(pair, case):
    ours, theirs = pair
    direct, server, protocol = _wire(ours)
    transport = protocol.transport
    if case == "closing":
        protocol.state = protocol.STATE_CLOSING
    elif case == "autobahn_queue":
        protocol.send_queue.append((b"ping", False))
    elif case == "compressed":
        protocol._perMessageCompress = object()
    elif case == "fragmenting":
        protocol.send_state = 3
    elif case == "tls":
        transport.TLS = True
    elif case == "twisted_buffer":
        transport.dataBuffer, transport.offset = b"unsent", 2
    elif case == "disconnected":
        server.connections[protocol] = {"disconnected": 1.0}
    elif case == "too_big":
        protocol.maxMessagePayloadSize = 10
    assert not direct.send("a message longer than ten bytes")
    assert _read(theirs) == b""


def test_a_send_that_is_not_daphnes_has_no_wire():
    async def send(message):
        pass

    assert wire.DirectWire.of(send) is None
    assert wire.DirectWire.of(partial(send)) is None


def test_the_attributes_the_direct_path_reads_are_the_installed_servers():
    """DirectWire reads daphne's, autobahn's and twisted's state by name: an upgrade that renames
    any of it fails here (the running server would only fall back to the ordinary path, slower)."""
    import inspect

    from autobahn.websocket.protocol import WebSocketProtocol
    from daphne.server import Server as DaphneServer
    from twisted.internet import abstract, tcp

    assert DaphneServer.handle_reply.__name__ == "handle_reply"
    assert "partial(self.handle_reply, protocol)" in inspect.getsource(DaphneServer.create_application)
    assert "disconnected" in inspect.getsource(DaphneServer.handle_reply)  # what DirectWire.send checks too
    made = inspect.getsource(WebSocketProtocol._connectionMade)
    for name in ("self.send_queue", "self.send_state", "self._perMessageCompress"):
        assert name in made, name
    assert WebSocketProtocol.STATE_OPEN != WebSocketProtocol.STATE_CLOSING
    assert hasattr(WebSocketProtocol, "SEND_STATE_GROUND")
    assert {"maxMessagePayloadSize", "autoFragmentSize"} <= set(WebSocketProtocol.CONFIG_ATTRS_COMMON)
    assert tcp.Server.TLS is False
    descriptor = abstract.FileDescriptor()
    for name in ("_tempDataBuffer", "dataBuffer", "offset", "connected", "disconnecting"):
        assert hasattr(descriptor, name), name
    assert "self.socket" in inspect.getsource(tcp.Connection.writeSomeData)

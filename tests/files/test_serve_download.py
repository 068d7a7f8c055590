"""Downloads through a real `manage.py serve`: on local storage a streamed file goes out by
sendfile(2) (core.response_flow.ResponseFlow.sendfile); whole, ranged and HEAD answers must stay
exact and leave the keep-alive connection usable, on either storage."""

from __future__ import annotations

import os
import socket

import pytest

from tests.files.conftest import live_upload
from tests.foundation.test_http_edge import read_response

pytestmark = pytest.mark.django_db(transaction=False)


def _request(method: str, path: str, key: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"X-API-Key: {key}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _head_only(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """A HEAD answer: the head, and whatever came after it (nothing, if the body was not sent)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection without an answer"
        received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, rest


def test_whole_ranged_and_head_downloads_are_exact_on_one_keep_alive_connection(server, keys):
    data = os.urandom(6 * 1024 * 1024 + 123)
    stored = live_upload(server.url, keys.secret, data, "big.bin")
    assert stored.status_code == 201, stored.text
    path = f"/api/v1/files/{stored.json()['id']}/content?redirect=0"
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(_request("GET", path, keys.secret))
        status, headers, body = read_response(sock)
        assert (status, int(headers["content-length"])) == (200, len(data)) and body == data

        sock.sendall(_request("GET", path, keys.secret, "Range: bytes=1048570-5000000"))
        status, headers, body = read_response(sock)
        assert status == 206 and headers["content-range"] == f"bytes 1048570-5000000/{len(data)}"
        assert body == data[1048570:5000001]

        sock.sendall(_request("GET", path, keys.secret, "Range: bytes=-300"))
        status, _headers, body = read_response(sock)
        assert status == 206 and body == data[-300:]

        sock.sendall(_request("HEAD", path, keys.secret))
        status, headers, rest = _head_only(sock)
        assert status == 200 and int(headers["content-length"]) == len(data)
        # No body after a HEAD: the next answer on the connection is the next request's.
        sock.sendall(_request("GET", f"/api/v1/files/{stored.json()['id']}", keys.secret))
        sock.settimeout(10)
        following = rest
        while b"\r\n\r\n" not in following:
            following += sock.recv(65536)
        assert following.startswith(b"HTTP/1.1 200"), following[:200]


def test_a_client_that_leaves_mid_download_does_not_disturb_the_next_one(server, keys):
    data = os.urandom(32 * 1024 * 1024)
    stored = live_upload(server.url, keys.secret, data, "left.bin", timeout=120)
    assert stored.status_code == 201, stored.text
    path = f"/api/v1/files/{stored.json()['id']}/content?redirect=0"
    host, port = server.url.removeprefix("http://").split(":")
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.sendall(_request("GET", path, keys.secret))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(_request("GET", path, keys.secret, "Connection: close"))
        status, _headers, body = read_response(sock)
        assert status == 200 and body == data

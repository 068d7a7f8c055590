"""A simple upload to the embedded server (`manage.py serve`) is not held whole in memory.

daphne used to put every chunk of a request body into the application's queue at once, so a
256 MiB upload grew the server by 259 MiB; its queue now keeps bodies on disk
(basalt.core.server.BodySpoolingQueue reads it from the file Twisted received it into, and
hands that file to the WSGI bridge as wsgi.input).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.files.conftest import live_upload

pytestmark = pytest.mark.django_db(transaction=False)

BODY_MIB = 48  # under the default 50 MiB file size limit


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _warm(server, keys) -> None:
    """A first upload builds the process's storage client (boto3 loads its models once, ~15 MiB):
    not what an upload holds."""
    answer = live_upload(server.url, keys.secret, os.urandom(3 * 1024 * 1024), "warm.bin", timeout=60)
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("declared", [False, True], ids=["chunked", "content-length"])
def test_a_large_simple_upload_does_not_grow_the_server_by_its_size(server, keys, tmp_path, declared):
    """Chunked or with a Content-Length, the body reaches the view while it arrives
    (core.request_body), the socket read no further while 4 MiB wait."""
    _warm(server, keys)
    pid = server.process.pid
    # Reset the peak (VmHWM) to the current RSS, so the peak measured below is this upload's alone.
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_kib(pid, "VmRSS")
    payload = tmp_path / "big.bin"
    with payload.open("wb") as out:
        for _ in range(BODY_MIB):
            out.write(os.urandom(1024 * 1024))

    def body():
        with payload.open("rb") as stream:
            while chunk := stream.read(256 * 1024):
                yield chunk

    length = {"Content-Length": str(BODY_MIB * 1024 * 1024)} if declared else {}
    answer = live_upload(server.url, keys.secret, body(), "big.bin", timeout=300, **length)
    assert answer.status_code == 201, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(payload.read_bytes()).hexdigest()
    assert answer.json()["size"] == BODY_MIB * 1024 * 1024
    growth_mib = (_status_kib(pid, "VmHWM") - before) / 1024
    shape = "Content-Length" if declared else "chunked"
    print(f"serve RSS growth for a {BODY_MIB} MiB simple upload ({shape}): {growth_mib:.1f} MiB")
    assert growth_mib < BODY_MIB / 2, f"serve grew by {growth_mib:.0f} MiB for a {BODY_MIB} MiB upload"


def test_a_tus_upload_in_8_mib_patches_does_not_grow_the_server_by_its_size(server, keys):
    """On S3 each PATCH buffers an 8 MiB part, and `serve` runs successive requests on different
    threads: with glibc's per-thread malloc arenas each thread kept its own freed buffers (+145 MiB
    for 384 MiB); serve now limits the arenas (basalt.core.memory)."""
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_kib(pid, "VmRSS")
    data = os.urandom(BODY_MIB * 1024 * 1024)
    headers = {"X-API-Key": keys.secret, "Tus-Resumable": "1.0.0"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=300) as http:
        created = http.post("/api/v1/files/tus", headers={"Upload-Length": str(len(data))})
        assert created.status_code == 201, created.text
        offset, step = 0, 8 * 1024 * 1024
        while offset < len(data):
            answer = http.patch(
                created.headers["Location"],
                content=data[offset : offset + step],
                headers={"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"},
            )
            assert answer.status_code == 204, answer.text
            offset = int(answer.headers["Upload-Offset"])
        file_id = answer.headers["X-Basalt-File-Id"]
        assert http.get(f"/api/v1/files/{file_id}").json()["sha256"] == hashlib.sha256(data).hexdigest()
    growth_mib = (_status_kib(pid, "VmHWM") - before) / 1024
    print(f"serve RSS growth for a {BODY_MIB} MiB tus upload: {growth_mib:.1f} MiB")
    assert growth_mib < BODY_MIB, f"serve grew by {growth_mib:.0f} MiB for a {BODY_MIB} MiB tus upload"


def test_a_download_to_a_slow_reader_is_not_buffered_whole_in_the_server(server, keys):
    """daphne wrote every piece of a streamed response into Twisted's buffer at once, whatever the
    client took: a 512 MiB download to a slow reader grew the server by 1 GiB. The bridge now sends
    the next piece when the transport has drained (basalt.core.response_flow)."""
    data = os.urandom(BODY_MIB * 1024 * 1024)
    stored = live_upload(server.url, keys.secret, data, "slow.bin", timeout=300)
    assert stored.status_code == 201, stored.text
    pid = server.process.pid
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _status_kib(pid, "VmRSS")
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        request = (
            f"GET /api/v1/files/{stored.json()['id']}/content?redirect=0 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"X-API-Key: {keys.secret}\r\nConnection: close\r\n\r\n"
        )
        conn.sendall(request.encode())
        received = bytearray(conn.recv(64 * 1024))
        # The reader stalls: the server, left alone, would push the whole file into its buffer now.
        time.sleep(2)
        growth_mib = (_status_kib(pid, "VmHWM") - before) / 1024
        while more := conn.recv(1024 * 1024):
            received += more
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest() and len(body) == len(data)
    print(f"serve RSS growth while a {BODY_MIB} MiB download stalls: {growth_mib:.1f} MiB")
    assert growth_mib < BODY_MIB / 4, f"serve grew by {growth_mib:.0f} MiB while a {BODY_MIB} MiB download stalled"

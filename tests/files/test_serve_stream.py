"""A large simple upload to `manage.py serve` is read, hashed and stored while it arrives.

`serve` used to receive a whole body into a temporary file before the view ran; a body longer
than 1 MiB with a Content-Length now reaches the view as it comes off the socket
(core.request_body). What the client sees: refusals (size, type, key) come while it is still
sending, the connection stays usable after one, and a client that hangs up mid-body leaves no
file and no object.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.contract import live
from tests.files import seaweed
from tests.files.conftest import live_upload
from tests.foundation.test_http_edge import read_response

pytestmark = pytest.mark.django_db(transaction=False)

MIB = 1024 * 1024


@pytest.fixture
def project(server):
    """A project of its own: its file list and storage start empty."""
    return live.make_project(server.url, "Streamed uploads")


def _connect(server) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=20)


def _head(project, length: int, content_type: str = "application/octet-stream", key: str | None = None) -> bytes:
    return (
        "POST /api/v1/files?name=streamed.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"X-API-Key: {key or project.secret}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def _files(server, project) -> list[str]:
    answer = httpx.get(f"{server.url}/api/v1/files", headers={"X-API-Key": project.secret}, timeout=30)
    assert answer.status_code == 200, answer.text
    return [row["name"] for row in answer.json()["results"]]


def _stored(server, weed) -> set[str]:
    """Every object and partial write in the server's storage (temporary names and S3 multipart
    uploads included)."""
    if weed is None:
        root = Path(server.env["BASALT_DATA_DIR"]) / "files"
        return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()} if root.exists() else set()
    client = seaweed.s3_client(weed)
    keys = {
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=seaweed.BUCKET)
        for item in page.get("Contents", [])
    }
    uploads = client.list_multipart_uploads(Bucket=seaweed.BUCKET).get("Uploads", [])
    return keys | {f"multipart:{upload['Key']}:{upload['UploadId']}" for upload in uploads}


def _reset(sock: socket.socket) -> None:
    """Close with an RST, not a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def _assert_nothing_left(server, weed, project, before: set[str]) -> None:
    """No file row, and (once the server has seen the cut) no object or partial write."""
    deadline = time.monotonic() + 15
    while _stored(server, weed) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _stored(server, weed) == before
    assert _files(server, project) == []


def test_a_streamed_upload_stores_the_exact_bytes_with_their_sha256(server, project):
    data = os.urandom(9 * MIB + 123)  # more than one S3 part, not a whole number of pieces
    answer = live_upload(server.url, project.secret, data, "exact.bin")  # bytes: with a Content-Length
    assert answer.status_code == 201, answer.text
    body = answer.json()
    digest = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == digest and body["size"] == len(data)
    content = httpx.get(f"{server.url}{body['url']}?redirect=0", headers={"X-API-Key": project.secret}, timeout=120)
    assert content.status_code == 200 and content.content == data
    assert digest in content.headers["ETag"]


@pytest.mark.parametrize(
    ("length", "content_type", "first", "status", "code"),
    [
        # past the project's max size (50 MiB by default): known from the Content-Length alone
        (60 * MIB, "application/octet-stream", b"\0" * MIB, 413, "payload_too_large"),
        # bytes that contradict the declared type: known from the first 8 KiB
        (40 * MIB, "image/png", b"<!DOCTYPE html><html><script>1</script>" + b" " * MIB, 415, "unsupported_media_type"),
    ],
)
def test_a_refused_upload_is_answered_while_the_client_still_sends_and_the_connection_goes_on(
    server, weed, project, length, content_type, first, status, code
):
    """Before, `serve` received the whole body before the view ran; the refusal now comes after
    the first MiB. The rest of the body is then received and dropped (never parsed as a request),
    and the client's next request on the same connection is answered."""
    before = _stored(server, weed)
    with _connect(server) as sock:
        sock.sendall(_head(project, length, content_type) + first)
        started = time.monotonic()
        got_status, headers, body = read_response(sock)
        assert time.monotonic() - started < 15
        assert got_status == status, body
        assert json.loads(body)["error"]["code"] == code
        assert headers["content-type"].startswith("application/json")
        # The rest of the body, with something that looks like a request inside it.
        rest = length - len(first)
        filler = b"GET /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        sock.sendall(filler + b"\0" * (rest - len(filler)))
        sock.sendall(f"GET /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {project.secret}\r\n\r\n".encode())
        next_status, _headers, next_body = read_response(sock)
    assert next_status == 200, next_body
    assert json.loads(next_body)["results"] == []
    assert _stored(server, weed) == before


def test_a_wrong_key_is_answered_before_the_body_is_sent(server, project):
    with _connect(server) as sock:
        sock.sendall(_head(project, 20 * MIB, key="bk_secret_not_a_real_key") + b"\0" * MIB)
        got_status, _headers, body = read_response(sock)
    assert got_status in (401, 403), body
    assert json.loads(body)["error"]["code"]


def test_a_client_that_hangs_up_mid_body_leaves_no_file_and_no_object(server, weed, project):
    before = _stored(server, weed)
    with _connect(server) as sock:
        sock.sendall(_head(project, 40 * MIB))
        for _ in range(12):  # 12 of 40 MiB: past the first S3 part, so a multipart upload is open
            sock.sendall(os.urandom(MIB))
        time.sleep(1)
        _reset(sock)  # an abrupt end (RST), as when a client process dies
    _assert_nothing_left(server, weed, project, before)
    # The server is fine and the next upload of the same size goes through.
    data = os.urandom(40 * MIB)
    answer = live_upload(server.url, project.secret, data, "after.bin")
    assert answer.status_code == 201, answer.text
    assert answer.json()["sha256"] == hashlib.sha256(data).hexdigest()


# --- chunked bodies (Transfer-Encoding: chunked, no Content-Length) ---------------------------------
# Before, `serve` received a chunked body whole (into a temporary file) before the view ran; now it
# reaches the view as it arrives, like one with a Content-Length.


def _chunked_head(project, content_type: str = "application/octet-stream", name: str = "chunked.bin") -> bytes:
    return (
        f"POST /api/v1/files?name={name} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {project.secret}\r\n"
        f"Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def test_a_chunked_upload_from_a_generator_stores_the_exact_bytes_with_their_sha256(server, project):
    data = os.urandom(9 * MIB + 321)

    def pieces():  # httpx sends an iterator without a Content-Length, chunked
        for start in range(0, len(data), 300 * 1024):
            yield data[start : start + 300 * 1024]

    answer = live_upload(server.url, project.secret, pieces(), "generated.bin")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["size"] == len(data) and body["sha256"] == hashlib.sha256(data).hexdigest()
    content = httpx.get(f"{server.url}{body['url']}?redirect=0", headers={"X-API-Key": project.secret}, timeout=120)
    assert content.content == data


def test_a_chunked_multipart_upload_is_parsed_as_it_arrives(server, project):
    data = os.urandom(3 * MIB)
    boundary = "basaltchunkedboundary"
    framed = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="form.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    answer = httpx.post(
        f"{server.url}/api/v1/files",
        content=iter([framed[:MIB], framed[MIB:]]),
        headers={"X-API-Key": project.secret, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["name"] == "form.bin" and answer.json()["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("content_type", "first", "before_answer", "status", "code"),
    [
        # past the project's max size (50 MiB by default): the view stops reading at 50 MiB + 1
        ("application/octet-stream", b"\0" * MIB, 51, 413, "payload_too_large"),
        # bytes that contradict the declared type: known from the first 8 KiB
        ("image/png", b"<!DOCTYPE html><html><script>1</script>" + b" " * MIB, 1, 415, "unsupported_media_type"),
    ],
)
def test_a_refused_chunked_upload_is_answered_before_its_end_and_stores_nothing(
    server, weed, project, content_type, first, before_answer, status, code
):
    before = _stored(server, weed)
    with _connect(server) as sock:
        sock.sendall(_chunked_head(project, content_type))
        for _ in range(before_answer):
            sock.sendall(_chunk(first))
        # No terminating chunk yet: the answer comes while the body is still open.
        got_status, headers, body = read_response(sock)
        assert got_status == status, body
        assert json.loads(body)["error"]["code"] == code
        assert headers["content-type"].startswith("application/json")
        # The rest is dropped, then the connection goes on.
        sock.sendall(_chunk(b"GET /api/v1/files HTTP/1.1\r\n\r\n") + b"0\r\n\r\n")
        sock.sendall(f"GET /api/v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {project.secret}\r\n\r\n".encode())
        next_status, _headers, next_body = read_response(sock)
    assert next_status == 200, next_body
    assert json.loads(next_body)["results"] == []
    assert _stored(server, weed) == before


@pytest.mark.parametrize("ending", ["hang-up", "bad framing"])
def test_a_chunked_upload_cut_short_leaves_no_file_and_no_object(server, weed, project, ending):
    """A chunked body has no length to check the received size against: the server must report
    the cut (core.request_body.CUTS_REPORTED), or a truncated file would be stored as whole."""
    before = _stored(server, weed)
    with _connect(server) as sock:
        sock.sendall(_chunked_head(project))
        for _ in range(12):  # past the first S3 part, so a multipart upload is open
            sock.sendall(_chunk(os.urandom(MIB)))
        time.sleep(1)
        if ending == "bad framing":
            sock.sendall(b"zz\r\nnot a chunk size\r\n")
            got_status, headers, body = read_response(sock)
            assert got_status == 400, body
            assert headers["content-type"].startswith("application/json") and json.loads(body)["error"]["code"]
        else:
            _reset(sock)
    _assert_nothing_left(server, weed, project, before)


def test_a_chunked_tus_patch_is_read_to_its_end(server, project):
    """tus PATCHes stream too (core.request_body.streams_body): sent chunked, without a
    Content-Length, the bytes are all stored (Django alone would have read none of them)."""
    data = os.urandom(3 * MIB + 11)
    tus = {"X-API-Key": project.secret, "Tus-Resumable": "1.0.0"}
    with httpx.Client(base_url=server.url, headers=tus, timeout=60) as http:
        created = http.post("/api/v1/files/tus", headers={"Upload-Length": str(len(data))})
        assert created.status_code == 201, created.text
        done = http.patch(
            created.headers["Location"],
            content=iter([data[:MIB], data[MIB:]]),
            headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        )
        assert done.status_code == 204, done.text
        assert done.headers["Upload-Offset"] == str(len(data))
        file_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
        stored = http.get(f"/api/v1/files/{file_id}").json()
    assert stored["size"] == len(data) and stored["sha256"] == hashlib.sha256(data).hexdigest()

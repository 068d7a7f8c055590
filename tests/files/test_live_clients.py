"""Real clients against a real `manage.py serve`: tuspy, tus-js-client under Node, raw sockets (T24).

The server runs on the same storage as the rest of this run (local folder, or SeaweedFS S3 on the
PostgreSQL pass), so resumable uploads are proven on both."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.files.conftest import live_upload

NODE_DIR = Path(__file__).resolve().parent / "node"
pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def payload(tmp_path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 123))
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def metadata(server, keys, file_id: str) -> dict:
    answer = httpx.get(f"{server.url}/api/v1/files/{file_id}", headers={"X-API-Key": keys.secret}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_tuspy_upload_cut_and_resumed(server, keys, payload):
    from tusclient import client as tus

    uploader_client = tus.TusClient(f"{server.url}/api/v1/files/tus", headers={"X-API-Key": keys.secret})
    with payload.open("rb") as stream:
        first = uploader_client.uploader(
            file_stream=stream, chunk_size=512 * 1024, metadata={"filename": "py.bin"}, upload_checksum=True
        )
        first.upload_chunk()
        first.upload_chunk()
        url = first.url
    # A new process would know only the URL: it asks the server for the offset and goes on.
    with payload.open("rb") as stream:
        resumed = uploader_client.uploader(file_stream=stream, url=url, chunk_size=512 * 1024, upload_checksum=True)
        assert resumed.offset == 1024 * 1024
        resumed.upload()
    body = metadata(server, keys, url.rsplit("/", 1)[1])
    assert body["sha256"] == sha(payload)
    assert body["size"] == payload.stat().st_size and body["name"] == "py.bin"


def test_tus_js_client_under_node_cut_and_resumed(server, keys, payload):
    if not (NODE_DIR / "node_modules" / "tus-js-client").exists():
        pytest.fail("tus-js-client is not installed: run .ci/steps/files.sh")
    done = subprocess.run(
        [
            "node",
            str(NODE_DIR / "tus_upload.mjs"),
            f"{server.url}/api/v1/files/tus",
            keys.secret,
            str(payload),
            str(256 * 1024),
            "cut",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=NODE_DIR,
    )
    assert done.returncode == 0, done.stderr + server.log_tail()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["resumedFrom"] == result["url"]  # the same upload, resumed
    body = metadata(server, keys, result["url"].rsplit("/", 1)[1])
    assert body["sha256"] == sha(payload) and body["name"] == "from-node.bin"


def test_streamed_raw_upload_and_ranged_download(server, keys, payload):
    def chunks():
        with payload.open("rb") as stream:
            while block := stream.read(64 * 1024):
                yield block

    answer = live_upload(server.url, keys.secret, chunks(), "big.bin", timeout=60)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["sha256"] == sha(payload)
    ranged = httpx.get(
        f"{server.url}{body['url']}", headers={"X-API-Key": keys.secret, "Range": "bytes=1000000-1000999"}, timeout=30
    )
    assert ranged.status_code == 206 and ranged.content == payload.read_bytes()[1_000_000:1_001_000]


def test_declared_length_longer_than_the_body_stores_nothing(server, keys):
    before = httpx.get(f"{server.url}/api/v1/files", headers={"X-API-Key": keys.secret}, timeout=30).json()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/files?name=liar.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + f"X-API-Key: {keys.secret}\r\n".encode()
            + b"Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n"
            + b"only a few bytes"
        )
        sock.shutdown(socket.SHUT_WR)
        try:
            reply = sock.recv(4096)
        except TimeoutError:
            reply = b""
    assert not reply.startswith(b"HTTP/1.1 201"), reply[:200]
    after = httpx.get(f"{server.url}/api/v1/files", headers={"X-API-Key": keys.secret}, timeout=30).json()
    assert [f["name"] for f in after["results"]] == [f["name"] for f in before["results"]]

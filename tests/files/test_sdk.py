"""The Python SDK's files part against a live server: streamed and resumable uploads, download, URLs."""

from __future__ import annotations

import hashlib
import io
import os

import httpx
import pytest
from basalt_sdk import Client, NotFoundError

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def sdk(server, keys):
    with Client(server.url, keys.secret) as client:
        yield client


def test_upload_path_download_and_signed_url(sdk, tmp_path):
    source = tmp_path / "notes.txt"
    source.write_bytes(b"hello from the sdk\n" * 1000)
    stored = sdk.files.upload(source, content_type="text/plain")
    assert stored["name"] == "notes.txt" and stored["content_type"] == "text/plain"
    assert stored["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    target = tmp_path / "copy.txt"
    assert sdk.files.download(stored["id"], target) == source.stat().st_size
    assert target.read_bytes() == source.read_bytes()
    url = sdk.files.signed_url(stored["id"], expires_in=60)
    assert httpx.get(url, timeout=30).content == source.read_bytes()
    sdk.files.delete(stored["id"])
    with pytest.raises(NotFoundError):
        sdk.files.get(stored["id"])


def test_resumable_upload_of_a_file_object(sdk):
    data = os.urandom(5 * 1024 * 1024 + 7)
    stored = sdk.files.upload(io.BytesIO(data), name="blob.bin", resumable=True, chunk_size=1024 * 1024)
    assert stored["size"] == len(data) and stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert stored["name"] == "blob.bin"


def test_a_resumable_upload_sends_each_patch_with_its_length_in_pieces_of_at_most_a_mib():
    """One large bytes body through httpx is copied after every partial send (httpcore): an
    8 MiB PATCH went out at ~150 MiB/s. Sent in 1 MiB views with its Content-Length, it is not."""
    patches: list[tuple[dict, list[int]]] = []
    data = os.urandom(3 * 1024 * 1024 + 5)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "/api/v1/files/tus/f1", "Upload-Offset": "0"})
        if request.method == "PATCH":
            sizes = [len(piece) for piece in request.stream]
            patches.append((dict(request.headers), sizes))
            offset = int(request.headers["Upload-Offset"]) + sum(sizes)
            return httpx.Response(204, headers={"Upload-Offset": str(offset)})
        return httpx.Response(200, json={"id": "f1", "size": len(data)})

    class Recorder(httpx.BaseTransport):  # MockTransport reads the body whole before answering
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return answer(request)

    with Client("http://basalt.test", "sk_test", transport=Recorder()) as client:
        assert client.files.upload(io.BytesIO(data), name="b.bin", resumable=True, chunk_size=2 * 1024 * 1024)["id"]
    assert [sum(sizes) for _headers, sizes in patches] == [2 * 1024 * 1024, 1024 * 1024 + 5]
    for headers, sizes in patches:
        assert int(headers["content-length"]) == sum(sizes) and "transfer-encoding" not in headers
        assert max(sizes) <= 1024 * 1024


class _ReadSizes(io.BytesIO):
    """A file object that records the size of every read."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        block = super().read(size)
        self.reads.append(len(block))
        return block


def test_a_resumable_upload_streams_each_patch_from_the_file_with_its_checksum():
    """A PATCH is read from the file as it is sent (after a checksum pass), never held whole, so
    the default PATCH is large: 70 MiB go in 2 PATCHes (each costs the server a request, a lock
    and a commit), and no read asks for more than a MiB."""
    import base64

    data = os.urandom(70 * 1024 * 1024 + 3)
    patches: list[tuple[int, str]] = []

    class Recorder(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                return httpx.Response(201, headers={"Location": "/api/v1/files/tus/f1", "Upload-Offset": "0"})
            if request.method == "PATCH":
                offset = int(request.headers["Upload-Offset"])
                body = b"".join(request.stream)
                algorithm, _, value = request.headers["Upload-Checksum"].partition(" ")
                assert algorithm == "sha256" and base64.b64decode(value) == hashlib.sha256(body).digest()
                assert body == data[offset : offset + len(body)]
                patches.append((offset, request.headers["Content-Length"]))
                return httpx.Response(204, headers={"Upload-Offset": str(offset + len(body))})
            return httpx.Response(200, json={"id": "f1", "size": len(data)})

    source = _ReadSizes(data)
    with Client("http://basalt.test", "sk_test", transport=Recorder()) as client:
        assert client.files.upload(source, name="b.bin")["id"] == "f1"
    assert patches == [(0, str(64 * 1024 * 1024)), (64 * 1024 * 1024, str(6 * 1024 * 1024 + 3))]
    assert max(source.reads) <= 1024 * 1024


def test_thumbnail_url(sdk, server, keys):
    from tests.files.images import png

    with httpx.Client(base_url=server.url, timeout=30) as http:
        http.patch(
            f"/api/v1/manage/projects/{keys.ref}/settings",
            json={"files": {"thumbnail_sizes": ["32x32"]}},
            headers={"Authorization": f"Bearer {keys.owner_token}"},
        ).raise_for_status()
    stored = sdk.files.upload(io.BytesIO(png(100, 50)), name="p.png")
    url = sdk.files.thumbnail_url(stored["id"], "32x32", fit="contain")
    answer = httpx.get(url, timeout=30)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    from PIL import Image

    assert Image.open(io.BytesIO(answer.content)).size == (32, 16)

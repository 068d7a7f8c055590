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

"""tus on S3 writes the bytes to the bucket once: PATCHes go into the final object's multipart
upload (files/tus_parts.py), not into part objects concatenated at the end. SeaweedFS (S3 pass)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from basalt.files.storage.s3 import PART
from tests.files.conftest import STORAGE
from tests.files.test_tus import create, patch
from tests.files.test_upload import stored_objects

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(STORAGE != "s3", reason="S3 only (the PostgreSQL pass, or FILES_TEST_STORAGE=s3)"),
]
DATA = os.urandom(2 * PART + 1000)


@pytest.fixture
def written(file_storage, monkeypatch):
    """Every byte the server sends to the bucket (objects and parts)."""
    counted = {"bytes": 0, "calls": []}
    client = file_storage.client
    for name in ("put_object", "upload_part"):
        real = getattr(client, name)

        def wrapped(*args, _real=real, _name=name, **kwargs):
            body = kwargs.get("Body", b"")
            counted["bytes"] += len(body) if isinstance(body, bytes | bytearray) else 0
            counted["calls"].append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(client, name, wrapped)
    return counted


def _sha(client, file_id: str) -> str:
    answer = client.get(f"/api/v1/files/{file_id}/content")
    body = b"".join(answer.streaming_content) if answer.streaming else answer.content
    return hashlib.sha256(body).hexdigest()


def test_large_patches_are_written_once(secret_client, written, file_storage, project):
    location = create(secret_client, len(DATA))["Location"]
    first = patch(secret_client, location, 0, DATA[: PART + 500])
    assert first.status_code == 204, first.content
    last = patch(secret_client, location, PART + 500, DATA[PART + 500 :])
    assert last.status_code == 204, last.content
    file_id = last["X-Basalt-File-Id"]
    # Old code: every byte as a part object, then again into the file (2x). Now: the file's parts
    # plus one 500-byte leftover segment.
    assert written["bytes"] == len(DATA) + 500, written
    assert secret_client.get(f"/api/v1/files/{file_id}").json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert _sha(secret_client, file_id) == hashlib.sha256(DATA).hexdigest()
    assert stored_objects(file_storage, project.project.pk) == [f"p{project.project.pk}/{file_id}/original"]
    assert not list(file_storage.stranded_uploads(f"p{project.project.pk}/{file_id}/"))


def test_small_patches_resumed_in_another_process_and_a_bad_checksum(secret_client, written, file_storage, project):
    """Tiny PATCHes (each byte at most twice), the running hash lost between PATCHes (another
    process: the object is read once at the end), and a PATCH refused for its checksum, retried."""
    from basalt.files import tus_stream

    location = create(secret_client, len(DATA))["Location"]
    offset, step = 0, 3 * 1024 * 1024 + 7
    while offset < len(DATA):
        chunk = DATA[offset : offset + step]
        wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
        refused = patch(secret_client, location, offset, chunk, HTTP_UPLOAD_CHECKSUM=f"sha256 {wrong}")
        assert refused.status_code == 460, refused.content
        tus_stream._HASHES.clear()
        answer = patch(secret_client, location, offset, chunk)
        assert answer.status_code == 204, answer.content
        offset += len(chunk)
    file_id = answer["X-Basalt-File-Id"]
    assert secret_client.get(f"/api/v1/files/{file_id}").json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert _sha(secret_client, file_id) == hashlib.sha256(DATA).hexdigest()
    assert stored_objects(file_storage, project.project.pk) == [f"p{project.project.pk}/{file_id}/original"]
    assert not list(file_storage.stranded_uploads(f"p{project.project.pk}/{file_id}/"))


def test_a_lying_type_is_refused_at_the_first_patch_and_termination_aborts(secret_client, file_storage, project):
    fake = b"plain text claiming to be an image " * 1000
    location = secret_client.post(
        "/api/v1/files/tus",
        HTTP_UPLOAD_LENGTH=str(len(fake) * 1000),
        HTTP_UPLOAD_METADATA="filetype " + base64.b64encode(b"image/png").decode(),
        HTTP_TUS_RESUMABLE="1.0.0",
    )["Location"]
    refused = patch(secret_client, location, 0, fake)
    assert refused.status_code == 415, refused.content
    assert secret_client.head(location, HTTP_TUS_RESUMABLE="1.0.0").status_code == 404
    assert stored_objects(file_storage, project.project.pk) == []
    assert not list(file_storage.stranded_uploads(f"p{project.project.pk}/{location.rsplit('/', 1)[1]}/"))
    # Termination mid-way aborts the multipart upload too.
    other = create(secret_client, len(DATA))["Location"]
    assert patch(secret_client, other, 0, DATA[: PART + 10]).status_code == 204
    mine = f"p{project.project.pk}/{other.rsplit('/', 1)[1]}/"
    assert list(file_storage.stranded_uploads(mine))
    assert secret_client.delete(other, HTTP_TUS_RESUMABLE="1.0.0").status_code == 204
    assert stored_objects(file_storage, project.project.pk) == []
    assert not list(file_storage.stranded_uploads(mine))

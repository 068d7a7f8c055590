"""tus on the local folder writes the bytes once: PATCHes go into one file at the recorded offset,
renamed into place at the end (files/tus_local.py). One request writes an upload at a time.
Local storage (SQLite pass, or FILES_TEST_STORAGE=local)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from basalt.files import tus_local, tus_stream
from basalt.files.models import File, TusUpload
from tests.files.conftest import STORAGE
from tests.files.test_tus import TUS, create, meta, patch
from tests.files.test_upload import stored_objects

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(STORAGE != "local", reason="local folder only (the SQLite pass)"),
]
DATA = os.urandom(3 * 1024 * 1024 + 777)


def _content(client, file_id: str) -> bytes:
    answer = client.get(f"/api/v1/files/{file_id}/content")
    return b"".join(answer.streaming_content)


def _upload_of(location: str) -> TusUpload:
    return TusUpload.objects.get(pk=location.rsplit("/", 1)[1])


def test_patches_write_one_file_renamed_into_place(secret_client, file_storage, project):
    location = create(secret_client, len(DATA))["Location"]
    upload = _upload_of(location)
    assert patch(secret_client, location, 0, DATA[:1_000_000]).status_code == 204
    # mid-way: one file holding exactly the recorded bytes, no part objects
    pid = project.project.pk
    assert stored_objects(file_storage, pid) == [f"p{pid}/tus/{upload.id}/data"]
    assert file_storage.size(tus_local.data_key(upload)) == 1_000_000
    last = patch(secret_client, location, 1_000_000, DATA[1_000_000:])
    assert last.status_code == 204, last.content
    file_id = last["X-Basalt-File-Id"]
    assert stored_objects(file_storage, pid) == [f"p{pid}/{file_id}/original"]
    assert secret_client.get(f"/api/v1/files/{file_id}").json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert _content(secret_client, file_id) == DATA


def test_refused_and_cut_patches_leave_nothing_past_the_offset(secret_client, file_storage, monkeypatch):
    """A PATCH refused for its checksum (460) or cut after its first megabyte (the connection
    lost: a 400, not a 500) leaves the file at the recorded offset; the retry, shorter than the
    refused one, leaves no stale bytes behind, and the running hash lost between PATCHes
    (another process) is recomputed from the file."""
    from django.test.client import FakePayload

    location = create(secret_client, len(DATA))["Location"]
    upload = _upload_of(location)
    assert patch(secret_client, location, 0, DATA[:500_000]).status_code == 204
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    refused = patch(secret_client, location, 500_000, DATA[500_000:2_000_000], HTTP_UPLOAD_CHECKSUM=f"sha256 {wrong}")
    assert refused.status_code == 460
    assert file_storage.size(tus_local.data_key(upload)) == 500_000
    real_read, reads = FakePayload.read, []

    def cut_after_one_read(payload, *args):
        reads.append(1)
        if len(reads) > 1:
            raise OSError("connection reset by peer")
        return real_read(payload, *args)

    with monkeypatch.context() as patched:
        patched.setattr(FakePayload, "read", cut_after_one_read)
        cut = patch(secret_client, location, 500_000, DATA[500_000:2_500_000])
    assert cut.status_code == 400, cut.content
    assert "interrupted" in cut.json()["error"]["message"]
    assert file_storage.size(tus_local.data_key(upload)) == 500_000
    assert secret_client.head(location, **TUS)["Upload-Offset"] == "500000"
    tus_stream._HASHES.clear()
    assert patch(secret_client, location, 500_000, DATA[500_000:600_000]).status_code == 204
    last = patch(secret_client, location, 600_000, DATA[600_000:])
    assert last.status_code == 204, last.content
    file_id = last["X-Basalt-File-Id"]
    assert secret_client.get(f"/api/v1/files/{file_id}").json()["sha256"] == hashlib.sha256(DATA).hexdigest()
    assert _content(secret_client, file_id) == DATA


def test_a_patch_while_another_writes_is_409_and_changes_nothing(secret_client, file_storage):
    location = create(secret_client, len(DATA))["Location"]
    upload = _upload_of(location)
    assert patch(secret_client, location, 0, DATA[:1000]).status_code == 204
    with file_storage.resumable(tus_local.data_key(upload)):  # another request holds the upload
        busy = patch(secret_client, location, 1000, DATA[1000:5000])
    assert busy.status_code == 409, busy.content
    assert busy["Upload-Offset"] == "1000"
    assert busy.json()["error"]["code"] == "conflict"
    assert file_storage.size(tus_local.data_key(upload)) == 1000
    assert patch(secret_client, location, 1000, DATA[1000:]).status_code == 204
    assert File.objects.get().sha256 == hashlib.sha256(DATA).hexdigest()


def test_a_lying_type_is_refused_at_the_first_patch(secret_client, file_storage, project):
    fake = b"plain text claiming to be an image " * 1000
    location = secret_client.post(
        "/api/v1/files/tus",
        HTTP_UPLOAD_LENGTH=str(len(fake) * 100),
        HTTP_UPLOAD_METADATA=meta(filename="a.png", filetype="image/png"),
        **TUS,
    )["Location"]
    refused = patch(secret_client, location, 0, fake)
    assert refused.status_code == 415, refused.content
    assert secret_client.head(location, **TUS).status_code == 404
    assert stored_objects(file_storage, project.project.pk) == []


def test_an_upload_begun_as_part_objects_still_finishes(secret_client, file_storage, project):
    """Uploads begun before tus_local (no `local` state) keep the part-object path to the end."""
    location = create(secret_client, len(DATA))["Location"]
    upload = _upload_of(location)
    upload.metadata.pop("local")
    upload.save(update_fields=["metadata"])
    assert patch(secret_client, location, 0, DATA[:1000]).status_code == 204
    last = patch(secret_client, location, 1000, DATA[1000:])
    assert last.status_code == 204, last.content
    file_id = last["X-Basalt-File-Id"]
    assert _content(secret_client, file_id) == DATA
    assert stored_objects(file_storage, project.project.pk) == [f"p{project.project.pk}/{file_id}/original"]

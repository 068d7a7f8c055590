"""tus 1.0 at /api/v1/files/tus: creation, HEAD offset, PATCH, checksum, termination, expiry (T24)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest
from django.utils import timezone

from basalt.core.json import NUL_MESSAGE
from basalt.files.models import File, TusUpload

pytestmark = pytest.mark.django_db
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
DATA = bytes(range(256)) * 40  # 10240 bytes


def meta(**values: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def create(client, length: int = len(DATA), **extra):
    return client.post(
        "/api/v1/files/tus",
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=meta(filename="../d.bin"),
        **TUS,
        **extra,
    )


def patch(client, location: str, offset: int, body: bytes, **extra):
    return client.generic(
        "PATCH",
        location,
        body,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
        **extra,
    )


def test_options_advertises_the_extensions(secret_client):
    answer = secret_client.options("/api/v1/files/tus")
    assert answer.status_code == 204
    assert answer["Tus-Version"] == "1.0.0"
    assert set(answer["Tus-Extension"].split(",")) >= {"creation", "termination", "checksum", "creation-with-upload"}
    assert set(answer["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256"}


def test_upload_in_chunks_resumed_from_the_servers_offset(secret_client):
    created = create(secret_client)
    assert created.status_code == 201, created.content
    location = created["Location"]
    assert created["Upload-Offset"] == "0"
    assert patch(secret_client, location, 0, DATA[:3000]).status_code == 204
    # the client "lost" its state: it asks the server where to resume
    head = secret_client.head(location, **TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == "3000" and head["Upload-Length"] == str(len(DATA))
    assert head["Cache-Control"] == "no-store"
    last = patch(secret_client, location, 3000, DATA[3000:])
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(DATA))
    file_id = last["X-Basalt-File-Id"]
    assert file_id == location.rsplit("/", 1)[1]
    body = secret_client.get(f"/api/v1/files/{file_id}").json()
    assert body["name"] == "d.bin" and body["size"] == len(DATA)
    assert body["sha256"] == hashlib.sha256(DATA).hexdigest()


def test_offset_mismatch_is_409_and_changes_nothing(secret_client):
    location = create(secret_client)["Location"]
    patch(secret_client, location, 0, DATA[:100])
    for wrong in (0, 50, 101, 99999):
        answer = patch(secret_client, location, wrong, DATA[wrong : wrong + 10])
        assert answer.status_code == 409, wrong
        assert answer.json()["error"]["code"] == "conflict"
    assert secret_client.head(location, **TUS)["Upload-Offset"] == "100"


def test_checksum_mismatch_is_460_and_discards_the_chunk(secret_client):
    location = create(secret_client)["Location"]
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    answer = patch(secret_client, location, 0, DATA[:500], HTTP_UPLOAD_CHECKSUM=f"sha256 {wrong}")
    assert answer.status_code == 460
    assert answer.json()["error"]["code"] == "checksum_mismatch"
    assert secret_client.head(location, **TUS)["Upload-Offset"] == "0"
    right = base64.b64encode(hashlib.sha256(DATA[:500]).digest()).decode()
    assert patch(secret_client, location, 0, DATA[:500], HTTP_UPLOAD_CHECKSUM=f"sha256 {right}").status_code == 204
    unknown = patch(secret_client, location, 500, DATA[500:600], HTTP_UPLOAD_CHECKSUM="md5 AAAA")
    assert unknown.status_code == 400


def test_body_past_upload_length_is_refused(secret_client):
    location = create(secret_client, length=10)["Location"]
    answer = patch(secret_client, location, 0, b"x" * 11)
    assert answer.status_code == 400
    assert secret_client.head(location, **TUS)["Upload-Offset"] == "0"
    assert File.objects.count() == 0


def test_creation_with_upload_and_zero_length(secret_client):
    whole = secret_client.generic(
        "POST",
        "/api/v1/files/tus",
        DATA,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_LENGTH=str(len(DATA)),
        **TUS,
    )
    assert whole.status_code == 201 and whole["Upload-Offset"] == str(len(DATA))
    assert File.objects.filter(pk=whole["Location"].rsplit("/", 1)[1]).exists()
    empty = create(secret_client, length=0)
    assert empty.status_code == 201
    assert File.objects.get(pk=empty["Location"].rsplit("/", 1)[1]).size == 0


def test_termination_removes_the_upload(secret_client, file_storage, project):
    from tests.files.test_upload import stored_objects

    location = create(secret_client)["Location"]
    patch(secret_client, location, 0, DATA[:100])
    assert stored_objects(file_storage, project.project.pk)
    assert secret_client.delete(location, **TUS).status_code == 204
    assert secret_client.head(location, **TUS).status_code == 404
    assert stored_objects(file_storage, project.project.pk) == []


def test_wrong_version_missing_length_and_bad_metadata(secret_client):
    assert secret_client.post("/api/v1/files/tus", HTTP_UPLOAD_LENGTH="5").status_code == 412
    assert secret_client.post("/api/v1/files/tus", **TUS).status_code == 400
    assert secret_client.post("/api/v1/files/tus", HTTP_UPLOAD_LENGTH="-5", **TUS).status_code == 400
    bad = secret_client.post("/api/v1/files/tus", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA="filename !!!", **TUS)
    assert bad.status_code == 400
    # NUL, which PostgreSQL cannot keep in the upload's JSON metadata (SQLite kept it): refused alike.
    for metadata in (meta(filetype="text/plain\x00"), meta(filename="a.txt", content_type="\x00")):
        nul = secret_client.post("/api/v1/files/tus", HTTP_UPLOAD_LENGTH="5", HTTP_UPLOAD_METADATA=metadata, **TUS)
        assert nul.status_code == 400 and nul.json()["error"]["details"] == {"Upload-Metadata": [NUL_MESSAGE]}
    assert TusUpload.objects.count() == 0
    location = create(secret_client)["Location"]
    plain = secret_client.generic(
        "PATCH", location, b"x", content_type="application/json", HTTP_UPLOAD_OFFSET="0", **TUS
    )
    assert plain.status_code == 415


def test_upload_length_over_max_size_is_413(secret_client, project):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"max_size": 100}})
    answer = create(secret_client, length=101)
    assert answer.status_code == 413
    assert TusUpload.objects.count() == 0


def test_lying_type_at_finish_leaves_nothing(secret_client, file_storage, project):
    from tests.files.test_upload import stored_objects

    created = secret_client.post(
        "/api/v1/files/tus",
        HTTP_UPLOAD_LENGTH="20",
        HTTP_UPLOAD_METADATA=meta(filename="a.png", filetype="image/png"),
        **TUS,
    )
    assert patch(secret_client, created["Location"], 0, b"<html>not").status_code == 204
    answer = patch(secret_client, created["Location"], 9, b" a png.....")
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    assert secret_client.head(created["Location"], **TUS).status_code == 404
    assert File.objects.count() == 0
    assert stored_objects(file_storage, project.project.pk) == []


def test_another_users_upload_is_404(user_of):
    alice, _ = user_of("alice@example.com")
    bob, _ = user_of("bob@example.com")
    location = create(alice)["Location"]
    assert bob.head(location, **TUS).status_code == 404
    assert patch(bob, location, 0, DATA[:10]).status_code == 404


def test_expired_uploads_are_removed_by_the_scheduled_task(secret_client, file_storage, project):
    from basalt.files.tasks import expire_uploads
    from tests.files.test_upload import stored_objects

    location = create(secret_client)["Location"]
    patch(secret_client, location, 0, DATA[:100])
    TusUpload.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    assert secret_client.head(location, **TUS).status_code == 404
    assert expire_uploads.delay().get() >= 1
    assert TusUpload.objects.count() == 0
    assert stored_objects(file_storage, project.project.pk) == []

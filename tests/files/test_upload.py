"""Uploads: raw and multipart bodies, sha256, sniffed types, names, limits and quota (API.md §5)."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from basalt.files.models import File
from tests.files.conftest import content_of, upload
from tests.files.images import png

pytestmark = pytest.mark.django_db


def stored_objects(storage, project_id: int) -> list[str]:
    """Every object under the project's prefix, on either storage."""
    if storage.kind == "local":
        root = storage.root / f"p{project_id}"
        return sorted(str(p.relative_to(storage.root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    pages = storage.client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket, Prefix=f"p{project_id}/")
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_raw_upload_returns_metadata_with_sniffed_type_and_sha256(secret_client):
    data = png()
    answer = upload(secret_client, data, name="photo.png", content_type="application/octet-stream")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert set(body) == {"id", "name", "content_type", "size", "sha256", "url", "acl", "created_at"}
    assert body["content_type"] == "image/png"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["url"] == f"/api/v1/files/{body['id']}/content"
    assert answer["Location"] == f"/api/v1/files/{body['id']}"
    content = secret_client.get(body["url"])
    assert content.status_code == 200
    assert content_of(content) == data


def test_multipart_upload_streams_the_file_part(secret_client):
    data = b"hello multipart " * 1000
    answer = secret_client.post(
        "/api/v1/files", {"file": SimpleUploadedFile("notes.txt", data, content_type="text/plain")}, format="multipart"
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["name"], body["content_type"], body["size"]) == ("notes.txt", "text/plain", len(data))
    assert body["sha256"] == hashlib.sha256(data).hexdigest()


def test_multipart_without_a_file_part_is_a_clear_400(secret_client):
    answer = secret_client.post("/api/v1/files", {"other": "x"}, format="multipart")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "validation_failed"


def test_zero_byte_file_works(secret_client):
    answer = upload(secret_client, b"", name="empty.txt")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["size"] == 0 and body["sha256"] == hashlib.sha256(b"").hexdigest()
    content = secret_client.get(body["url"])
    assert content.status_code == 200 and content_of(content) == b""


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../x", "x"),
        ("..\\..\\etc\\passwd", "passwd"),
        ("a.png\x00.html", "a.png.html"),
        ("a.svg.", "a.svg"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("...", "file"),
    ],
)
def test_names_are_sanitised(secret_client, raw, clean):
    from urllib.parse import quote

    answer = secret_client.generic("POST", f"/api/v1/files?name={quote(raw)}", b"x", content_type="text/plain")
    assert answer.status_code == 201, answer.content
    assert answer.json()["name"] == clean


def test_ten_thousand_character_name_is_cut_keeping_the_extension(secret_client):
    answer = upload(secret_client, b"x", name="a" * 10_000 + ".txt")
    assert answer.status_code == 201
    name = answer.json()["name"]
    assert len(name) == 255 and name.endswith(".txt")


def test_lying_image_type_is_refused(secret_client, project, file_storage):
    answer = upload(secret_client, b"<html><script>alert(1)</script></html>", name="cat.png", content_type="image/png")
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    assert File.objects.count() == 0
    assert stored_objects(file_storage, project.project.pk) == []


def test_html_claimed_as_text_is_recorded_as_html(secret_client):
    answer = upload(secret_client, b"<!doctype html><p>hi", name="a.txt", content_type="text/plain")
    assert answer.status_code == 201
    assert answer.json()["content_type"] == "text/html"


def test_max_size_answers_413_before_storing(secret_client, project, file_storage):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"max_size": 10}})
    declared = upload(secret_client, b"x" * 11)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"
    multipart = secret_client.post(
        "/api/v1/files", {"file": SimpleUploadedFile("a.bin", b"y" * 50)}, format="multipart"
    )
    assert multipart.status_code == 413
    assert upload(secret_client, b"x" * 10).status_code == 201
    assert File.objects.count() == 1
    assert len(stored_objects(file_storage, project.project.pk)) == 1


def test_quota_answers_413_quota_exceeded(secret_client, project, file_storage):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"quota_bytes": 25}})
    assert upload(secret_client, b"a" * 20).status_code == 201
    over = upload(secret_client, b"b" * 6)
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "quota_exceeded"
    assert upload(secret_client, b"c" * 5).status_code == 201
    assert File.objects.count() == 2
    assert len(stored_objects(file_storage, project.project.pk)) == 2


def test_allowed_types_refuse_other_bytes(secret_client, project):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"allowed_types": ["image/*"]}})
    assert upload(secret_client, png()).status_code == 201
    refused = upload(secret_client, b"just text", name="a.png", content_type="image/png")
    assert refused.status_code == 415
    assert upload(secret_client, b"plain", name="a.txt", content_type="text/plain").status_code == 415


def test_bad_files_settings_are_validation_errors(console, project):
    from basalt.core.errors import ValidationFailed
    from basalt.projects.project_settings import update_settings

    for bad in (
        {"max_size": -1},
        {"thumbnail_sizes": ["0x0"]},
        {"thumbnail_sizes": ["99999x1"]},
        {"default_acl": "everyone"},
        {"allowed_types": ["not a type"]},
        {"nope": 1},
        {"quota_bytes": "lots"},
    ):
        with pytest.raises(ValidationFailed):
            update_settings(project.project, {"files": bad})


def test_large_upload_is_streamed_in_parts(secret_client, file_storage):
    """20 MiB crosses the S3 multipart threshold (8 MiB parts) and several local write chunks."""
    data = bytes(range(256)) * (20 * 4096)
    answer = upload(secret_client, data, name="big.bin")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    ranged = secret_client.get(body["url"], HTTP_RANGE="bytes=10000000-10000099")
    assert ranged.status_code == 206
    assert b"".join(ranged.streaming_content) == data[10_000_000:10_000_100]

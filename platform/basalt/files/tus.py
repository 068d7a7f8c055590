"""tus 1.0 resumable uploads: core, creation, creation-with-upload, termination, checksum (sha256), expiration.

On S3 each PATCH goes straight into the final object's multipart upload (`tus_parts.py`); on the
local folder into one file renamed into place at the end (`tus_local.py`): either way the bytes
are written once, with sha256 and sniffing as they pass (`tus_stream.py`). (A storage with
neither, and local uploads begun before `tus_local`, store each PATCH as an object and stream them
once through the same Ingest as a simple upload at the end.) A cut request leaves the offset where
it was (never half-recorded), and the offset advances in a short transaction that re-checks it,
so two PATCHes racing at one offset cannot both land. The upload id is the file id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.http import http_date

from basalt.core.caller import Caller
from basalt.core.errors import (
    BasaltError,
    Conflict,
    NotFound,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from basalt.core.json import NUL_MESSAGE
from basalt.files import tus_local, tus_parts, tus_stream
from basalt.files.access import initial_acl, may_upload
from basalt.files.config import files_config
from basalt.files.errors import BadContentType
from basalt.files.ingest import Ingest, check_room
from basalt.files.models import TusUpload, new_file_id
from basalt.files.names import clean_name
from basalt.files.storage import CHUNK, get_storage
from basalt.projects.project_settings import LIMIT_CEILINGS

VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
PATCH_TYPE = "application/offset+octet-stream"
# sha1 because the checksum extension requires every server to support it (tuspy's default).
CHECKSUMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def expiry_hours() -> int:
    return int(getattr(settings, "FILES_TUS_EXPIRY_HOURS", 24))


class ChecksumMismatch(BasaltError):
    status = 460
    code = "checksum_mismatch"
    default_message = "The Upload-Checksum does not match the bytes received."


def tus_headers(response: HttpResponse, upload: TusUpload | None = None) -> HttpResponse:
    response["Tus-Resumable"] = VERSION
    response["Cache-Control"] = "no-store"
    if upload is not None:
        response["Upload-Offset"] = str(upload.offset)
        response["Upload-Length"] = str(upload.length)
        response["Upload-Expires"] = http_date(upload.expires_at.timestamp())
    return response


def options_response() -> HttpResponse:
    response = HttpResponse(status=204)
    response["Tus-Resumable"] = VERSION
    response["Tus-Version"] = VERSION
    response["Tus-Extension"] = EXTENSIONS
    response["Tus-Checksum-Algorithm"] = ",".join(CHECKSUMS)
    response["Tus-Max-Size"] = str(LIMIT_CEILINGS["max_file_size"])
    return response


def _check_version(request: HttpRequest) -> None:
    if request.META.get("HTTP_TUS_RESUMABLE") != VERSION:
        raise PreconditionFailed(
            "Send Tus-Resumable: 1.0.0.", code="unsupported_version", headers={"Tus-Version": VERSION}
        )


def _number(raw: str | None, header: str) -> int:
    if raw is None or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise ValidationFailed(f"{header} must be a non-negative integer.", details={header: ["Not a number."]})
    return int(raw)


def parse_metadata(raw: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if not raw:
        return out
    if len(raw) > 16384:
        raise ValidationFailed("Upload-Metadata is too long.")
    for pair in raw.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            out[key[:64]] = base64.b64decode(value, validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ValidationFailed(f"Upload-Metadata value of {key[:64]!r} is not base64 UTF-8.") from None
    return out


def _lookup(caller: Caller, upload_id: str) -> TusUpload:
    upload = TusUpload.objects.filter(pk=upload_id[:32], project_id=caller.project.pk).first()
    if upload is None or upload.expires_at < timezone.now():
        raise NotFound()
    if not caller.is_secret and upload.created_by != caller.user_id:
        raise NotFound()
    return upload


def _prefix(upload: TusUpload) -> str:
    return f"p{upload.project_id}/tus/{upload.id}/"


def create(request: HttpRequest, caller: Caller) -> HttpResponse:
    _check_version(request)
    if request.META.get("HTTP_UPLOAD_DEFER_LENGTH"):
        raise ValidationFailed("Upload-Defer-Length is not supported: send Upload-Length.")
    length = _number(request.META.get("HTTP_UPLOAD_LENGTH"), "Upload-Length")
    config = files_config(caller.project)
    may_upload(caller, config)
    check_room(caller.project.pk, config, length)
    metadata = parse_metadata(request.META.get("HTTP_UPLOAD_METADATA"))
    content_type = metadata.get("filetype") or metadata.get("content_type") or ""
    if "\x00" in content_type:  # kept as sent in a JSON column until the upload finishes (the name is cleaned)
        raise ValidationFailed(f"Upload-Metadata: {NUL_MESSAGE}", details={"Upload-Metadata": [NUL_MESSAGE]})
    acl = initial_acl(caller, config, None)
    file_id = new_file_id()
    storage = get_storage()
    parts_state, local_state = None, None
    if length and tus_parts.supported(storage):
        parts_state = tus_parts.begin(storage, caller.project.pk, file_id)
    elif length and tus_local.supported(storage):
        local_state = tus_local.begin()
    upload = TusUpload.objects.create(
        id=file_id,
        project_id=caller.project.pk,
        length=length,
        metadata={
            "name": clean_name(metadata.get("filename") or metadata.get("name")),
            "content_type": content_type,
            "acl": acl,
            "parts": [],
            **({"s3": parts_state} if parts_state else {}),
            **({"local": local_state} if local_state else {}),
        },
        created_by=caller.user_id,
        key_id=caller.key_id,
        expires_at=timezone.now() + timedelta(hours=expiry_hours()),
    )
    location = f"/api/v1/files/tus/{upload.id}"
    if request.META.get("CONTENT_TYPE", "").startswith(PATCH_TYPE) and _declared(request) != 0:
        upload = _append(request, caller, upload, offset=0)
    elif length == 0:
        upload = _finish(caller, upload)
    response = tus_headers(HttpResponse(status=201), upload)
    response["Location"] = location
    return response


def _declared(request: HttpRequest) -> int | None:
    raw = request.META.get("CONTENT_LENGTH")
    return _number(raw, "Content-Length") if raw else None


def head(request: HttpRequest, caller: Caller, upload_id: str) -> HttpResponse:
    upload = _lookup(caller, upload_id)  # another project's or user's upload is 404 before anything else
    _check_version(request)
    response = tus_headers(HttpResponse(status=200), upload)
    if upload.file_id:
        response["X-Basalt-File-Id"] = upload.file_id
    return response


def patch(request: HttpRequest, caller: Caller, upload_id: str) -> HttpResponse:
    upload = _lookup(caller, upload_id)
    _check_version(request)
    if not request.META.get("CONTENT_TYPE", "").startswith(PATCH_TYPE):
        raise UnsupportedMediaType(f"PATCH bodies must be {PATCH_TYPE}.")
    offset = _number(request.META.get("HTTP_UPLOAD_OFFSET"), "Upload-Offset")
    upload = _append(request, caller, upload, offset)
    response = tus_headers(HttpResponse(status=204), upload)
    if upload.file_id:
        response["X-Basalt-File-Id"] = upload.file_id
    return response


class _NoChecksum:
    """No Upload-Checksum: nothing to compare, so the PATCH's bytes are not hashed a second time
    beside the upload's own sha256 (that pass cost as much as writing them)."""

    def update(self, chunk: bytes) -> None:
        pass


def _checksum(request: HttpRequest) -> tuple[Any, bytes | None]:
    """(hash object, expected digest) from Upload-Checksum; a no-op and no expectation without one."""
    raw = request.META.get("HTTP_UPLOAD_CHECKSUM")
    if not raw:
        return _NoChecksum(), None
    algorithm, _, value = raw.partition(" ")
    if algorithm.lower() not in CHECKSUMS:
        raise ValidationFailed(f"Upload-Checksum algorithms: {', '.join(CHECKSUMS)}.")
    try:
        return CHECKSUMS[algorithm.lower()](), base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise ValidationFailed("Upload-Checksum is not base64.") from None


def _append(request: HttpRequest, caller: Caller, upload: TusUpload, offset: int) -> TusUpload:
    if upload.file_id:
        raise Conflict("This upload is complete.")
    if offset != upload.offset:
        raise Conflict(
            f"Upload-Offset {offset} does not match the server's offset {upload.offset}.",
            headers={"Upload-Offset": str(upload.offset)},
        )
    digest, expected = _checksum(request)
    declared = _declared(request)
    room = upload.length - upload.offset
    if declared is not None and declared > room:
        raise ValidationFailed(f"The body is longer than the {room} bytes the upload still needs.")
    storage = get_storage()
    if tus_parts.supported(storage):
        return _append_parts(storage, caller, upload, offset, request, room, digest, expected, declared)
    if tus_local.state(upload):

        def check(size: int) -> None:
            _check_body(digest, expected, declared, size)

        try:
            upload = tus_local.append(storage, upload, offset, request, room, digest, check)
        except BadContentType:
            _discard(storage, upload)
            raise
        return _finish(caller, upload) if upload.offset == upload.length else upload
    key = f"{_prefix(upload)}part-{offset:020d}-{uuid.uuid4().hex[:8]}"
    writer = storage.writer(key)
    size = 0
    try:
        while chunk := request.read(CHUNK):
            size += len(chunk)
            if size > room:
                raise ValidationFailed(f"The body is longer than the {room} bytes the upload still needs.")
            digest.update(chunk)
            writer.write(chunk)
        _check_body(digest, expected, declared, size)
        writer.commit() if size else writer.abort()
    except BaseException:
        writer.abort()
        raise
    if not size:
        return upload
    with transaction.atomic():
        locked = TusUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.offset != offset or locked.file_id:
            raced = True
        else:
            raced = False
            locked.metadata = {**locked.metadata, "parts": [*locked.metadata.get("parts", []), [key, size]]}
            locked.offset = offset + size
            locked.save(update_fields=["metadata", "offset"])
    if raced:
        storage.delete(key)
        raise Conflict("Another request moved this upload's offset; HEAD it and resume.")
    if locked.offset == locked.length:
        return _finish(caller, locked)
    return locked


def _check_body(digest: Any, expected: bytes | None, declared: int | None, size: int) -> None:
    if expected is not None and digest.digest() != expected:
        raise ChecksumMismatch()
    if declared is not None and size != declared:
        raise ValidationFailed("The body is shorter than its Content-Length.")


def _append_parts(
    storage, caller: Caller, upload: TusUpload, offset: int, request, room: int, digest, expected, declared
) -> TusUpload:
    """S3: the PATCH goes into the final object's multipart upload (tus_parts), written once."""
    new: dict[str, Any] = {}
    try:
        new, size, drop = tus_parts.write(storage, upload, _prefix(upload), request, room, digest)
        _check_body(digest, expected, declared, size)
    except BadContentType:
        # The bytes contradict the type: the whole upload is refused, nothing of it stays.
        _discard(storage, upload)
        raise
    except BaseException:
        for key in tus_parts.written_segment(new, tus_parts.state(upload)):
            storage.delete(key)
        raise
    if not size:
        return upload
    with transaction.atomic():
        locked = TusUpload.objects.select_for_update().get(pk=upload.pk)
        raced = locked.offset != offset or bool(locked.file_id)
        if not raced:
            locked.metadata = {**locked.metadata, "s3": tus_stream.remember(upload, new)}
            locked.offset = offset + size
            locked.save(update_fields=["metadata", "offset"])
    if raced:
        for key in tus_parts.written_segment(new, tus_parts.state(upload)):
            storage.delete(key)
        raise Conflict("Another request moved this upload's offset; HEAD it and resume.")
    for key in drop:
        storage.delete(key)
    if locked.offset == locked.length:
        return _finish(caller, locked)
    return locked


def _discard(storage, upload: TusUpload) -> None:
    """The upload row, its multipart upload (S3) and its objects go."""
    TusUpload.objects.filter(pk=upload.pk).delete()
    if tus_parts.supported(storage):
        tus_parts.discard(storage, upload)
    tus_local.discard(upload)
    storage.delete_prefix(_prefix(upload))


def _finish(caller: Caller, upload: TusUpload) -> TusUpload:
    """Make the file: S3 completes the multipart upload; otherwise the parts are streamed through an
    Ingest (sniff, sha256, limits) into the file. Then the upload's leftovers go."""
    meta = upload.metadata
    storage = get_storage()
    try:
        if tus_parts.state(upload).get("upload_id"):
            tus_parts.finish(storage, caller, upload)
        elif tus_local.state(upload):
            tus_local.finish(storage, caller, upload)
        else:
            ingest = Ingest(
                caller,
                files_config(caller.project),
                name=meta.get("name") or "file",
                declared_type=meta.get("content_type") or None,
                declared_length=upload.length,
                acl=meta.get("acl") or {},
                file_id=upload.id,
            )
            try:
                for key, _size in meta.get("parts", []):
                    for chunk in storage.read(key):
                        ingest.feed(chunk)
                ingest.finish()
            except BaseException:
                ingest.abort()
                raise
    except BaseException:
        _discard(storage, upload)
        storage.delete_prefix(f"p{upload.project_id}/{upload.id}/")
        raise
    TusUpload.objects.filter(pk=upload.pk).update(file_id=upload.id)
    upload.file_id = upload.id
    storage.delete_prefix(_prefix(upload))
    return upload


def terminate(request: HttpRequest, caller: Caller, upload_id: str) -> HttpResponse:
    upload = _lookup(caller, upload_id)
    _check_version(request)
    if upload.file_id:
        raise Conflict("This upload is complete; delete the file instead.")
    _discard(get_storage(), upload)
    return tus_headers(HttpResponse(status=204))

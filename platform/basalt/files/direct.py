"""Direct-to-storage uploads: a presigned POST (S3) or a signed PUT (local folder), then `complete`.

The file row exists from the start as `pending` (invisible; its promised size counts against the
quota) and becomes `ready` only when `complete` has found an object of exactly the promised size
whose first bytes sniff as an allowed type matching the promise, and has computed its sha256.
Concurrent `complete` calls are decided by a conditional UPDATE (pending → verifying): one verifies,
the others get 409. A refused upload loses its row and its object.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from basalt.documents.store import format_time
from basalt.files import events, signing, sniff
from basalt.files.access import acl_principals, initial_acl, may_upload
from basalt.files.config import files_config
from basalt.files.errors import BadContentType
from basalt.files.ingest import check_room, storage_key
from basalt.files.models import File, new_file_id
from basalt.files.names import clean_name
from basalt.files.services import remove_objects, render
from basalt.files.storage import CHUNK, get_storage
from basalt.files.thumbs import schedule_thumbnails

logger = logging.getLogger("basalt.files")
EXPIRES_IN = 3600
VERIFYING = "checking"


def begin(caller: Caller, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) - {"name", "content_type", "size", "acl"}:
        raise ValidationFailed(details={"body": ["Send {name, content_type, size[, acl]}."]})
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValidationFailed(details={"size": ["The exact size in bytes is required."]})
    content_type = sniff.normalise_declared(
        body.get("content_type") if isinstance(body.get("content_type"), str) else None
    )
    if content_type is None:
        raise ValidationFailed(details={"content_type": ["A media type like image/png is required."]})
    config = files_config(caller.project)
    may_upload(caller, config)
    if not sniff.type_allowed(content_type, config.allowed_types):
        raise BadContentType(f"Files of type {content_type} are not accepted by this project.")
    acl = initial_acl(caller, config, body.get("acl"))
    readers, writers = acl_principals(acl)
    file_id = new_file_id()
    key = storage_key(caller.project.pk, file_id)
    expires = timezone.now() + timedelta(seconds=EXPIRES_IN)
    with transaction.atomic():
        from basalt.projects.models import Project

        Project.objects.select_for_update().filter(pk=caller.project.pk).exists()
        check_room(caller.project.pk, config, size)
        File.objects.create(
            id=file_id,
            project_id=caller.project.pk,
            name=clean_name(body.get("name")),
            content_type=content_type,
            size=0,
            storage_key=key,
            status=File.PENDING,
            acl=acl,
            read_principals=readers,
            write_principals=writers,
            created_by=caller.user_id,
            expected_size=size,
            expires_at=expires,
        )
    storage = get_storage()
    answer: dict[str, Any] = {"file_id": file_id, "expires_at": format_time(expires)}
    if hasattr(storage, "presigned_post"):
        post = storage.presigned_post(key, EXPIRES_IN, content_type, size)
        answer.update(upload_url=post["url"], method="POST", fields=post["fields"], headers={})
    else:
        token, _ = signing.mint(caller.project.pk, file_id, caller.key_id, EXPIRES_IN)
        answer.update(
            upload_url=f"/api/v1/files/uploads/{file_id}?token={token}",
            method="PUT",
            fields={},
            headers={"Content-Type": content_type},
        )
    answer["complete_url"] = f"/api/v1/files/{file_id}/complete"
    return answer


def receive_put(request: HttpRequest, file_id: str) -> None:
    """The local storage's stand-in for a presigned PUT: the token is the only credential."""
    project_id = signing.verify(request.GET.get("token", ""), file_id)
    row = File.objects.filter(pk=file_id, project_id=project_id, status=File.PENDING).first()
    if row is None or row.expires_at < timezone.now():
        raise NotFound()
    writer = get_storage().writer(row.storage_key)
    size = 0
    try:
        while chunk := request.read(CHUNK):
            size += len(chunk)
            if size > (row.expected_size or 0):
                raise PayloadTooLarge(f"This upload promised {row.expected_size} bytes.")
            writer.write(chunk)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def complete(caller: Caller, file_id: str) -> dict[str, Any]:
    row = File.objects.filter(pk=str(file_id)[:32], project_id=caller.project.pk).first()
    if row is None or (not caller.is_secret and row.created_by != caller.user_id) or row.status == File.READY:
        if row is not None and row.status == File.READY and (caller.is_secret or row.created_by == caller.user_id):
            raise Conflict("This upload is already complete.")
        raise NotFound()
    if row.expires_at and row.expires_at < timezone.now():
        raise NotFound()
    claimed = File.objects.filter(pk=row.pk, status=File.PENDING).update(status=VERIFYING)
    if not claimed:
        raise Conflict("Another request is completing this upload.")
    try:
        verified = _verify(caller, row)
    except (ValidationFailed, BadContentType, Conflict):
        # The upload itself is refused (size, type, changed object): it goes, row and bytes.
        File.objects.filter(pk=row.pk).delete()
        remove_objects(f"p{row.project_id}/{row.id}/")
        raise
    except BaseException:
        _release(row)
        raise
    try:
        with transaction.atomic():
            File.objects.filter(pk=row.pk).update(**verified, status=File.READY, expected_size=None, expires_at=None)
            row.refresh_from_db()
            schedule_thumbnails(row)
            events.created(row.id)
    except BaseException:
        _release(row)
        raise
    return render(row)


def _release(row: File) -> None:
    """A failure that says nothing about the upload (the database busy or gone, storage unreachable):
    hand the claim back so the client's retry of `complete` can verify it, instead of every later
    call answering 409 until the upload expires."""
    try:
        File.objects.filter(pk=row.pk, status=VERIFYING).update(status=File.PENDING)
    except Exception:  # still failing: the row stays claimed, and expiry removes it (sweep.py)
        logger.warning("could not hand back the claim on upload %s", row.pk, exc_info=True)


def _verify(caller: Caller, row: File) -> dict[str, Any]:
    storage = get_storage()
    size = storage.size(row.storage_key)
    if size is None:
        raise ValidationFailed("Nothing was uploaded for this file.", details={"size": ["No object found."]})
    if size != row.expected_size:
        raise ValidationFailed(
            f"The upload has {size} bytes but {row.expected_size} were promised.",
            details={"size": [f"Expected {row.expected_size} bytes, got {size}."]},
        )
    config = files_config(caller.project)
    head = b"".join(storage.read(row.storage_key, 0, sniff.HEAD - 1)) if size else b""
    content_type, refusal = sniff.decide(head, row.content_type)
    if refusal:
        raise BadContentType(refusal)
    if not sniff.type_allowed(content_type, config.allowed_types):
        raise BadContentType(f"Files of type {content_type} are not accepted by this project.")
    digest = hashlib.sha256()
    read = 0
    for chunk in storage.read(row.storage_key) if size else ():
        digest.update(chunk)
        read += len(chunk)
    if read != size:
        raise Conflict("The object changed while it was verified; upload it again.")
    return {"size": size, "sha256": digest.hexdigest(), "content_type": content_type}

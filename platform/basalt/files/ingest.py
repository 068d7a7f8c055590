"""One streamed upload: limits, sniffing and sha256 as bytes pass, a storage write committed last.

Every upload path (raw body, multipart part, tus finish, direct complete) feeds an Ingest. Nothing
is visible until finish() has checked the length, the type and the quota and written the row;
any failure aborts the storage write, so no object is stranded and no row half-written.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import transaction
from django.db.models import Sum

from basalt.core.caller import Caller
from basalt.core.errors import PayloadTooLarge, ValidationFailed
from basalt.files import sniff
from basalt.files.config import FilesConfig
from basalt.files.errors import BadContentType, QuotaExceeded
from basalt.files.models import File, new_file_id
from basalt.files.pipeline import Pipeline
from basalt.files.storage import get_storage
from basalt.projects.models import Project


def storage_key(project_id: int, file_id: str, leaf: str = "original") -> str:
    return f"p{project_id}/{file_id}/{leaf}"


def used_bytes(project_id: int) -> int:
    ready = File.objects.filter(project_id=project_id).aggregate(total=Sum("size"))["total"] or 0
    promised = (
        File.objects.filter(project_id=project_id, status__in=(File.PENDING, "checking")).aggregate(
            total=Sum("expected_size")
        )["total"]
        or 0
    )
    return int(ready) + int(promised)


def stored_bytes(project_ids: list[int]) -> dict[int, int]:
    """Bytes of files and their thumbnails per project, for usage (one grouped query each)."""
    from basalt.files.models import Thumbnail

    totals: dict[int, int] = {}
    rows = File.objects.filter(project_id__in=project_ids).values("project_id").annotate(total=Sum("size"))
    for row in rows.order_by():
        totals[row["project_id"]] = int(row["total"] or 0)
    thumbs = Thumbnail.objects.filter(file__project_id__in=project_ids).values("file__project_id")
    for row in thumbs.annotate(total=Sum("size")).order_by():
        pid = row["file__project_id"]
        totals[pid] = totals.get(pid, 0) + int(row["total"] or 0)
    return totals


def check_room(project_id: int, config: FilesConfig, adding: int) -> None:
    """413 before storing: the file alone past max size, or the project past its quota."""
    if adding > config.max_size:
        raise PayloadTooLarge(f"Files may be at most {config.max_size} bytes.", details={"max_size": config.max_size})
    if config.quota_bytes is not None and used_bytes(project_id) + adding > config.quota_bytes:
        raise QuotaExceeded(details={"quota_bytes": config.quota_bytes})


class Ingest:
    def __init__(
        self,
        caller: Caller,
        config: FilesConfig,
        *,
        name: str,
        declared_type: str | None,
        declared_length: int | None,
        acl: dict[str, Any],
        file_id: str | None = None,
    ):
        self.caller, self.config, self.name, self.acl = caller, config, name, acl
        self.declared_type, self.declared_length = declared_type, declared_length
        if declared_length is not None:
            check_room(caller.project.pk, config, declared_length)
        self.file_id = file_id or new_file_id()
        self.key = storage_key(caller.project.pk, self.file_id)
        self.storage = get_storage()
        self.writer = self.storage.writer(self.key)
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.content_type: str | None = None
        self.done = False
        # From the second piece on, hashing and writing run beside the reading and each other
        # (pipeline.py); a body of one piece (most uploads) is handled inline, without a thread.
        self.pipeline: Pipeline | None = None

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        try:
            self.size += len(chunk)
            if self.declared_length is not None and self.size > self.declared_length:
                raise ValidationFailed("The body is longer than its declared length.")
            if self.size > self.config.max_size:
                raise PayloadTooLarge(
                    f"Files may be at most {self.config.max_size} bytes.", details={"max_size": self.config.max_size}
                )
            if len(self.head) < sniff.HEAD:
                self.head += chunk[: sniff.HEAD - len(self.head)]
                if len(self.head) >= sniff.HEAD:
                    self._decide_type()
            if self.pipeline is not None:
                self.pipeline.put(chunk)
            elif self.size == len(chunk):
                self._store(chunk)
            else:
                self.pipeline = Pipeline(self.hash.update, self.writer.write)
                self.pipeline.put(chunk)
        except BaseException:
            self.abort()
            raise

    def _store(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        self.writer.write(chunk)

    def _decide_type(self) -> None:
        content_type, refusal = sniff.decide(self.head, self.declared_type)
        if refusal:
            raise BadContentType(refusal)
        if not sniff.type_allowed(content_type, self.config.allowed_types):
            raise BadContentType(f"Files of type {content_type} are not accepted by this project.")
        self.content_type = content_type

    def abort(self) -> None:
        if not self.done:
            self.done = True
            if self.pipeline is not None:
                self.pipeline.discard()
            self.writer.abort()

    def finish(self) -> File:
        """Check what arrived, commit the bytes, then the row (the quota re-checked under a lock)."""
        try:
            if self.declared_length is not None and self.size != self.declared_length:
                raise ValidationFailed(
                    f"The body has {self.size} bytes but {self.declared_length} were declared.",
                    details={"size": [f"Expected {self.declared_length} bytes, got {self.size}."]},
                )
            if self.content_type is None:
                self._decide_type()
            if self.pipeline is not None:
                self.pipeline.close()
            self.writer.commit()
        except BaseException:
            self.abort()
            raise
        self.done = True
        try:
            return self._record()
        except BaseException:
            self.storage.delete_prefix(f"p{self.caller.project.pk}/{self.file_id}/")
            raise

    def _record(self) -> File:
        return record_file(
            self.caller,
            self.config,
            file_id=self.file_id,
            name=self.name,
            acl=self.acl,
            size=self.size,
            sha256=self.hash.hexdigest(),
            content_type=self.content_type,
        )


@transaction.atomic
def record_file(
    caller: Caller,
    config: FilesConfig,
    *,
    file_id: str,
    name: str,
    acl: dict[str, Any],
    size: int,
    sha256: str,
    content_type: str | None,
) -> File:
    """The row of a file whose bytes are committed at `storage_key`, the quota re-checked under a lock."""
    from basalt.files import events
    from basalt.files.access import acl_principals
    from basalt.files.thumbs import schedule_thumbnails

    Project.objects.select_for_update().filter(pk=caller.project.pk).exists()
    if config.quota_bytes is not None:
        if used_bytes(caller.project.pk) + size > config.quota_bytes:
            raise QuotaExceeded(details={"quota_bytes": config.quota_bytes})
    readers, writers = acl_principals(acl)
    row = File.objects.create(
        id=file_id,
        project_id=caller.project.pk,
        name=name,
        content_type=content_type or "application/octet-stream",
        size=size,
        sha256=sha256,
        storage_key=storage_key(caller.project.pk, file_id),
        acl=acl,
        read_principals=readers,
        write_principals=writers,
        created_by=caller.user_id,
    )
    schedule_thumbnails(row)
    events.created(row.id)
    return row

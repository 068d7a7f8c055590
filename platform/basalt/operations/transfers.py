"""Exports, imports and clones as background jobs (API.md §12): start, run in a worker, report progress.

A transfer is a row; a worker task runs it. Exports stream into file storage
(`exports/p<project>/<id>.tar.gz`); uploads for import are streamed into storage first
(`transfers/<id>/upload`) and removed once imported. Live progress goes through the cache (an
import runs in one transaction, so its own row would show nothing until the end).
Admins (manage_settings) may export, import and clone: an archive holds every user's password hash.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils import timezone

from basalt.accounts.models import Account
from basalt.core.errors import BasaltError, NotFound, PayloadTooLarge, ValidationFailed
from basalt.files.storage import get_storage
from basalt.operations import archive, exporting, importing, transfer_recovery
from basalt.operations.models import Transfer
from basalt.projects.models import Project
from basalt.projects.roles import Perm
from basalt.projects.services import access_project, create_project

logger = logging.getLogger("basalt.operations.transfers")
PROGRESS_TTL = 24 * 3600
FORMATS = ("basalt", "parse")


def _progress_key(transfer_id: str) -> str:
    return f"basalt:transfer:{transfer_id}"


def progress_of(transfer: Transfer) -> dict[str, Any]:
    if transfer.status == Transfer.RUNNING:
        live = cache.get(_progress_key(transfer.id))
        if live:
            return live
    return transfer.progress or {}


def reporter(transfer_id: str, also=None):
    state: dict[str, Any] = {}

    def note(phase: str, done: int) -> None:
        state["phase"] = phase
        state[phase] = done
        if also is not None:
            also(phase, done)
        try:
            cache.set(_progress_key(transfer_id), dict(state), PROGRESS_TTL)
        except Exception:  # progress is a courtesy; a cache outage must not fail the transfer
            logger.warning("could not publish transfer progress", exc_info=True)

    note.state = state  # type: ignore[attr-defined]
    return note


def _enqueue(transfer_id: str) -> None:
    transaction.on_commit(lambda: enqueue_now(transfer_id))


def enqueue_now(transfer_id: str) -> None:
    from basalt.operations import tasks

    tasks.run_transfer.delay(transfer_id)


def export_key(project: Project, transfer_id: str) -> str:
    return f"exports/p{project.pk}/{transfer_id}.tar.gz"


@transaction.atomic
def start_export(account: Account | None, project: Project, *, job_id: str = "") -> Transfer:
    transfer = Transfer.objects.create(project=project, kind=Transfer.EXPORT, created_by=account, job_id=job_id)
    _enqueue(transfer.id)
    return transfer


def start_export_for(account: Account, ref: str) -> Transfer:
    return start_export(account, access_project(account, ref, Perm.MANAGE_SETTINGS))


def start_import(account: Account, ref: str, body: BinaryIO, length: int | None, fmt: str) -> Transfer:
    """Stream the uploaded archive into storage, then queue its import (the project must be empty)."""
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    if fmt not in FORMATS:
        raise ValidationFailed(details={"format": [f"One of {', '.join(FORMATS)}."]})
    importing.check_empty(project)
    limit = settings.IMPORT_MAX_ARCHIVE_BYTES
    if length is not None and length > limit:
        raise PayloadTooLarge(f"Archives may be at most {limit} bytes.", details={"max_size": limit})
    transfer = Transfer(project=project, kind=Transfer.IMPORT, format=fmt, created_by=account)
    key = f"transfers/{transfer.id}/upload"
    writer = get_storage().writer(key)
    try:
        size = archive.copy_bounded(
            body,
            writer,
            limit,
            lambda: PayloadTooLarge(f"Archives may be at most {limit} bytes.", details={"max_size": limit}),
        )
        if size == 0:
            raise ValidationFailed("Send the archive as the request body.", details={"body": ["The body is empty."]})
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    transfer.archive_key, transfer.archive_size = key, size
    with transaction.atomic():
        transfer.save(force_insert=True)
        _enqueue(transfer.id)
    return transfer


def start_clone(account: Account, ref: str, body: Any) -> Transfer:
    source = access_project(account, ref, Perm.MANAGE_SETTINGS)
    if not isinstance(body, dict):
        raise ValidationFailed(details={"name": ["Give the new project's name."]})
    unknown = sorted(str(k)[:60] for k in body if k != "name")
    if unknown:
        raise ValidationFailed(details={unknown[0]: ["Unknown field."]})
    with transaction.atomic():
        copy = create_project(account, body.get("name"))
        transfer = Transfer.objects.create(project=copy, kind=Transfer.CLONE, source_ref=source.ref, created_by=account)
        _enqueue(transfer.id)
    return transfer


def get_transfer(account: Account, ref: str, transfer_id: str, kinds: tuple[str, ...]) -> Transfer:
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    rows = Transfer.objects.filter(id=transfer_id, kind__in=kinds)
    transfer = rows.filter(project=project).first()
    if transfer is None and Transfer.CLONE in kinds:
        # A clone is read under its source project; the copy's ref is in the answer.
        transfer = rows.filter(kind=Transfer.CLONE, source_ref=project.ref).first()
    if transfer is None:
        raise NotFound()
    return transfer


def list_transfers(account: Account, ref: str, kind: str) -> list[Transfer]:
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    return list(Transfer.objects.filter(project=project, kind=kind).order_by("-created_at")[:50])


def recent_transfers(account: Account, ref: str, limit: int = 20) -> list[Transfer]:
    """The project's own transfers and the clones made from it, newest first (the console's list)."""
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    recent = list(Transfer.objects.filter(project=project).order_by("-created_at")[:limit])
    recent += list(Transfer.objects.filter(kind=Transfer.CLONE, source_ref=project.ref).order_by("-created_at")[:limit])
    recent.sort(key=lambda t: t.created_at, reverse=True)
    return recent[:limit]


def read_archive(transfer: Transfer) -> Iterator[bytes]:
    if transfer.kind != Transfer.EXPORT or transfer.status != Transfer.SUCCEEDED or not transfer.archive_key:
        raise NotFound("This export has no archive (yet).")
    return get_storage().read(transfer.archive_key)


def archive_response(transfer: Transfer, ref: str) -> StreamingHttpResponse:
    """The export's archive as a download (the management API and the console serve the same)."""
    response = StreamingHttpResponse(read_archive(transfer), content_type="application/gzip")
    if transfer.archive_size is not None:
        response["Content-Length"] = str(transfer.archive_size)
    stamp = transfer.created_at.strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{ref}-{stamp}.basalt.tar.gz"'
    response["Cache-Control"] = "no-store"
    return response


# --- running ----------------------------------------------------------------------------------


def run(transfer_id: str, also=None) -> None:
    """Run a queued transfer once (a second delivery of the task finds it claimed and does nothing).

    `also` is called with each progress note too (a scheduled export keeps its run's heartbeat)."""
    # The liveness lock first, then the claim: a `running` transfer whose lock is free lost its worker.
    with transfer_recovery.liveness(transfer_id) as mine:
        if mine:
            _run_claimed(transfer_id, also)


def _run_claimed(transfer_id: str, also) -> None:
    now = timezone.now()
    if not Transfer.objects.filter(id=transfer_id, status=Transfer.QUEUED).update(
        status=Transfer.RUNNING, started_at=now
    ):
        return
    transfer = Transfer.objects.select_related("project").get(id=transfer_id)
    note = reporter(transfer.id, also)
    try:
        outcome = RUNNERS[transfer.kind](transfer, note)
    except BasaltError as exc:
        _finish(transfer, Transfer.FAILED, note.state, exc.payload()["error"])
        return
    except Exception:
        logger.exception("transfer %s failed", transfer_id)
        _finish(
            transfer,
            Transfer.FAILED,
            note.state,
            {"code": "internal_error", "message": "The transfer failed; the server log has the cause."},
        )
        return
    _finish(transfer, Transfer.SUCCEEDED, {**note.state, **outcome, "phase": "done"}, None)


def _finish(transfer: Transfer, status: str, progress: dict[str, Any], error: dict[str, Any] | None) -> None:
    Transfer.objects.filter(id=transfer.id).update(
        status=status, progress=progress, error=error, finished_at=timezone.now(),
        archive_key=transfer.archive_key, archive_size=transfer.archive_size,
    )  # fmt: skip
    cache.delete(_progress_key(transfer.id))


def _run_export(transfer: Transfer, note) -> dict[str, Any]:
    key = export_key(transfer.project, transfer.id)
    writer = get_storage().writer(key)
    try:
        result = exporting.export_project(transfer.project, writer, note)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    transfer.archive_key, transfer.archive_size = key, result["size"]
    return {"counts": result["counts"]}


def _run_import(transfer: Transfer, note) -> dict[str, Any]:
    storage = get_storage()
    try:
        if transfer.format == "parse":
            from basalt.operations import parse_import

            result = parse_import.import_parse(
                transfer.project, lambda: archive.chunk_reader(storage.read(transfer.archive_key)), note
            )
        else:
            result = importing.import_archive(
                transfer.project, lambda: archive.chunk_reader(storage.read(transfer.archive_key)), note
            )
    finally:
        storage.delete_prefix(f"transfers/{transfer.id}/")
        transfer.archive_key = ""
    return result


def _run_clone(transfer: Transfer, note) -> dict[str, Any]:
    source = Project.objects.filter(ref=transfer.source_ref).first()
    if source is None:
        raise NotFound("The project to copy no longer exists.")
    with tempfile.TemporaryFile(prefix="basalt-clone-") as spool:
        exporting.export_project(source, spool, lambda phase, done: note(f"export.{phase}", done))

        def reopen() -> BinaryIO:
            spool.seek(0)
            return _Unclosed(spool)

        return importing.import_archive(transfer.project, reopen, note, new_ids=True)


class _Unclosed:
    """The spool file handed to the importer, which closes what it opened; the spool outlives one pass."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw

    def read(self, n: int = -1) -> bytes:
        return self.raw.read(n)


RUNNERS = {Transfer.EXPORT: _run_export, Transfer.IMPORT: _run_import, Transfer.CLONE: _run_clone}

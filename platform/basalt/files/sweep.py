"""Scheduled clean-up: expired incomplete uploads and files nothing references (idempotent)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from basalt.documents.models import Collection, Document
from basalt.files.config import files_config
from basalt.files.models import File, TusUpload
from basalt.files.services import remove_objects
from basalt.files.storage import get_storage

logger = logging.getLogger("basalt.files")
BATCH = 500
STRANDED_AFTER = timedelta(hours=24)
# Other areas that keep file ids outside documents' `file` fields register here: (project id,
# ids) -> the ids among them they reference (push: File values of installations' custom fields).
ReferenceSource = Callable[[int, list[str]], set[str]]
REFERENCE_SOURCES: list[ReferenceSource] = []


def expire_uploads() -> int:
    """Pending direct uploads and tus uploads past their expiry, and S3 multipart uploads stranded
    by a crashed process: their rows and bytes go."""
    now = timezone.now()
    removed = 0
    for row in File.objects.filter(status__in=(File.PENDING, "checking"), expires_at__lt=now)[:BATCH]:
        with transaction.atomic():
            deleted, _ = File.objects.filter(pk=row.pk, status=row.status).delete()
        if deleted:
            remove_objects(f"p{row.project_id}/{row.id}/")
            removed += 1
    for upload in TusUpload.objects.filter(expires_at__lt=now)[:BATCH]:
        with transaction.atomic():
            deleted, _ = TusUpload.objects.filter(pk=upload.pk).delete()
        if deleted:
            from basalt.files import tus_parts

            if tus_parts.supported(get_storage()):
                tus_parts.discard(get_storage(), upload)
            remove_objects(f"p{upload.project_id}/tus/{upload.id}/")
            removed += 1
    storage = get_storage()
    if hasattr(storage, "stranded_uploads"):
        for key, upload_id, initiated in storage.stranded_uploads():
            # A tus upload still open writes into its file's multipart upload (tus_parts): not stranded.
            parts = key.split("/")
            if len(parts) == 3 and TusUpload.objects.filter(pk=parts[1], expires_at__gte=now).exists():
                continue
            if initiated < now - STRANDED_AFTER:
                storage.abort_upload(key, upload_id)
                removed += 1
    return removed


def file_fields(project_id: int) -> list[tuple[int, str]]:
    out = []
    for collection in Collection.objects.filter(project_id=project_id).only("id", "fields"):
        for name, definition in (collection.fields or {}).items():
            if isinstance(definition, dict) and definition.get("type") == "file":
                out.append((collection.id, name))
    return out


def referenced(project_id: int, ids: list[str]) -> set[str]:
    """The ids among `ids` that some document of the project holds in a `file` field, or that a
    registered source references."""
    found: set[str] = set()
    for collection_id, name in file_fields(project_id):
        rows = Document.objects.filter(collection_id=collection_id, **{f"data__{name}__in": ids})
        found.update(v for v in rows.values_list(f"data__{name}", flat=True) if isinstance(v, str))
    for source in REFERENCE_SOURCES:
        if len(found) < len(ids):
            found |= source(project_id, [file_id for file_id in ids if file_id not in found])
    return found


def sweep_orphans() -> int:
    removed = 0
    now = timezone.now()
    project_ids = File.objects.filter(status=File.READY).values_list("project_id", flat=True).distinct()
    for project_id in list(project_ids):
        from basalt.projects.models import Project

        project = Project.objects.filter(pk=project_id).first()
        if project is None:
            continue
        window = files_config(project).orphan_window_hours
        if window <= 0:
            continue
        cutoff = now - timedelta(hours=window)
        candidates = list(
            File.objects.filter(project_id=project_id, status=File.READY, created_at__lt=cutoff).values_list(
                "id", flat=True
            )[:BATCH]
        )
        if not candidates:
            continue
        keep = referenced(project_id, candidates)
        for file_id in candidates:
            if file_id in keep:
                continue
            with transaction.atomic():
                # Re-checked under the row lock: a document written since the scan keeps the file.
                row = File.objects.select_for_update().filter(pk=file_id).first()
                if row is None or referenced(project_id, [file_id]):
                    continue
                row.delete()
            remove_objects(f"p{project_id}/{file_id}/")
            removed += 1
    logger.info("orphan sweep removed %d files", removed)
    return removed

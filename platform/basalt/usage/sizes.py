"""Documents and stored bytes per collection: measured from the document table, and kept per
collection by the periodic snapshot for projects too large to measure on every view."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import BigIntegerField, Count, Func, Sum
from django.utils import timezone

from basalt.documents.models import Collection, Document


class DataBytes(Func):
    """Bytes of a JSON column as stored text: octet_length(data::text) / length(CAST(data AS BLOB))."""

    output_field = BigIntegerField()
    template = "LENGTH(%(expressions)s)"

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="OCTET_LENGTH((%(expressions)s)::text)", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="LENGTH(CAST(%(expressions)s AS BLOB))", **extra)


# Areas that store bytes outside documents (files) register a function: project ids → {id: bytes}.
STORAGE_CONTRIBUTORS: list[Callable[[list[int]], dict[int, int]]] = []


def other_storage(project_ids: list[int]) -> dict[int, int]:
    """Bytes the registered areas store per project (0 when none)."""
    totals = dict.fromkeys(project_ids, 0)
    for contributor in STORAGE_CONTRIBUTORS:
        for pid, size in contributor(project_ids).items():
            totals[pid] = totals.get(pid, 0) + int(size)
    return totals


def _measure(project_ids: list[int], collection_ids: list[int] | None = None) -> dict[int, tuple[int, int]]:
    """(documents, JSON bytes) per collection of these projects, in one grouped pass over their documents."""
    documents = Document.objects.filter(project_id__in=project_ids)
    if collection_ids is not None:
        documents = documents.filter(collection_id__in=collection_ids)
    rows = (
        documents.values("collection_id")
        .annotate(documents=Count("id"), storage_bytes=Sum(DataBytes("data")))
        .order_by()
    )
    return {row["collection_id"]: (int(row["documents"] or 0), int(row["storage_bytes"] or 0)) for row in rows}


def store_measurement(project_ids: list[int], now: datetime | None = None) -> dict[int, dict[int, tuple[int, int]]]:
    """Measure every collection of these projects and keep the figures (as of `now`); returns
    {project: {collection: (documents, bytes)}}."""
    from basalt.usage.models import CollectionSize

    measured = _measure(project_ids)
    now = now or timezone.now()
    out: dict[int, dict[int, tuple[int, int]]] = {pid: {} for pid in project_ids}
    rows = []
    for cid, pid in Collection.objects.filter(project_id__in=project_ids).values_list("id", "project_id"):
        documents, storage = measured.get(cid, (0, 0))
        out[pid][cid] = (documents, storage)
        rows.append(
            CollectionSize(
                collection_id=cid, project_id=pid, documents=documents, storage_bytes=storage, measured_at=now
            )
        )
    with transaction.atomic():
        CollectionSize.objects.filter(project_id__in=project_ids).exclude(
            collection_id__in=[row.collection_id for row in rows]
        ).delete()
        CollectionSize.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["collection_id"],
            update_fields=["documents", "storage_bytes", "measured_at"],
        )
    return out


def _is_large(project_id: int) -> bool:
    """More documents than the report measures on each view (counted no further than that)."""
    limit = settings.USAGE_LIVE_SIZES_LIMIT
    return Document.objects.filter(project_id=project_id).order_by()[: limit + 1].count() > limit


def collection_sizes(project_id: int) -> tuple[list[dict[str, Any]], datetime | None]:
    """Every collection of the project (empty ones too), largest first: name, documents, storage_bytes;
    and when those figures were measured (None: just now).

    A project past USAGE_LIVE_SIZES_LIMIT documents gets the figures of the last periodic
    measurement (taken now if there is none); a collection created since is measured on its own."""
    from basalt.usage.models import CollectionSize

    names = dict(Collection.objects.filter(project_id=project_id).values_list("id", "name"))
    measured_at = None
    if not _is_large(project_id):
        sizes = _measure([project_id])
    else:
        stored = list(CollectionSize.objects.filter(project_id=project_id))
        if not stored:
            measured_at = timezone.now()
            sizes = store_measurement([project_id], measured_at)[project_id]
        else:
            sizes = {row.collection_id: (row.documents, row.storage_bytes) for row in stored}
            measured_at = min(row.measured_at for row in stored)
            newer = [cid for cid in names if cid not in sizes]
            if newer:
                sizes.update(_measure([project_id], newer))
    out = [
        {"name": name, "documents": sizes.get(cid, (0, 0))[0], "storage_bytes": sizes.get(cid, (0, 0))[1]}
        for cid, name in names.items()
    ]
    return sorted(out, key=lambda row: (-row["storage_bytes"], -row["documents"], row["name"])), measured_at


def project_totals(project_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(documents, storage bytes) per project for daily snapshots; keeps each collection's figures too."""
    extra = other_storage(project_ids)
    totals = {}
    for pid, collections in store_measurement(project_ids).items():
        documents = sum(d for d, _ in collections.values())
        storage = sum(b for _, b in collections.values())
        totals[pid] = (documents, storage + extra.get(pid, 0))
    return totals

"""Documents and stored bytes per collection, computed from the document table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import BigIntegerField, Count, Func, Sum

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


def collection_sizes(project_id: int) -> list[dict[str, Any]]:
    """Every collection of the project (empty ones too), largest first: name, documents, storage_bytes."""
    names = dict(Collection.objects.filter(project_id=project_id).values_list("id", "name"))
    rows = (
        Document.objects.filter(project_id=project_id)
        .values("collection_id")
        .annotate(documents=Count("id"), storage_bytes=Sum(DataBytes("data")))
        .order_by()
    )
    sizes = {row["collection_id"]: row for row in rows}
    out = [
        {
            "name": name,
            "documents": int(sizes.get(cid, {}).get("documents") or 0),
            "storage_bytes": int(sizes.get(cid, {}).get("storage_bytes") or 0),
        }
        for cid, name in names.items()
    ]
    return sorted(out, key=lambda row: (-row["storage_bytes"], -row["documents"], row["name"]))


def project_totals(project_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(documents, storage bytes) per project, in one grouped query, for daily snapshots."""
    rows = (
        Document.objects.filter(project_id__in=project_ids)
        .values("project_id")
        .annotate(documents=Count("id"), storage_bytes=Sum(DataBytes("data")))
        .order_by()
    )
    extra = other_storage(project_ids)
    totals = {pid: (0, extra.get(pid, 0)) for pid in project_ids}
    for row in rows:
        pid = row["project_id"]
        totals[pid] = (int(row["documents"] or 0), int(row["storage_bytes"] or 0) + extra.get(pid, 0))
    return totals

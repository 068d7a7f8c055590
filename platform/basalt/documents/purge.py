"""Erase a removed field's old values for good, in bounded batches, off the request path.

Removing a field hides it at once (reads render declared fields only, queries refuse unknown
ones); its values stay in rows until this job removes them from every document of the
collection, every relation edge of a relation field, and the change log's before/after copies.
Until the job's FieldPurge row is gone the name cannot be declared again (catalog refuses with
409), so a re-added field never sees old values: not with another type, not without the
protection it had. Each batch is one short transaction; progress lives on the row, so a crashed
or repeated run resumes where the last one committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from basalt.core.errors import Conflict
from basalt.documents import changefeed, store
from basalt.documents.jobs import enqueue
from basalt.documents.models import FieldPurge

BATCH = 500
# Batches per task run; then the job requeues itself, so other queued work gets its turn.
BATCHES_PER_RUN = 40
MORE, DONE, MISSING = "more", "done", "missing"


def start(collection_id: int, name: str, stored_in_data: bool) -> None:
    """Record the purge of a field being removed (inside the schema change) and queue it after commit."""
    purge, _ = FieldPurge.objects.get_or_create(
        collection_id=collection_id, name=name, defaults={"relation": not stored_in_data}
    )
    transaction.on_commit(lambda: schedule(purge.pk))


class StillPurging(Conflict):
    """A removed field's name declared again before its old values are gone."""

    def __init__(self, rows: list[FieldPurge]):
        names = sorted(row.name for row in rows)
        super().__init__(
            f"The field {names[0]!r} was removed and its old values are still being erased; "
            "declare it again once that has finished (usually seconds).",
            details={f"fields.{name}": ["Still being erased after its removal."] for name in names},
        )
        self.purge_ids = [row.pk for row in rows]


def refuse_pending(collection_id: int, names: set[str]) -> None:
    """Raise StillPurging when any of `names` is still being erased from this collection."""
    rows = list(FieldPurge.objects.filter(collection_id=collection_id, name__in=names)) if names else []
    if rows:
        raise StillPurging(rows)


def schedule(purge_id: int) -> None:
    from basalt.documents.tasks import purge_removed_field

    enqueue(purge_removed_field, purge_id)


def run(purge_id: int) -> str:
    """Work through up to BATCHES_PER_RUN batches; requeue when there is more."""
    for _ in range(BATCHES_PER_RUN):
        state = step(purge_id)
        if state != MORE:
            return state
    schedule(purge_id)
    return MORE


def step(purge_id: int) -> str:
    """One bounded batch in its own transaction: documents (or edges), then the change log."""
    with transaction.atomic():
        purge = FieldPurge.objects.select_for_update().filter(pk=purge_id).first()
        if purge is None:
            return MISSING
        if not purge.docs_done:
            more = _edges_batch(purge) if purge.relation else _documents_batch(purge)
            if not more:
                purge.docs_done = True
                # Everything logged from here on was written without the field (or by a request
                # already in flight, which the log walk up to now still covers).
                purge.log_after, purge.log_until = _change_seq_span(purge.collection.project_id)
        elif purge.log_after < (purge.log_until or 0):
            _change_log_batch(purge)
        else:
            purge.delete()
            return DONE
        purge.updated_at = timezone.now()
        purge.save()
        return MORE


def _change_seq_span(project_id: int) -> tuple[int, int]:
    """(just before the oldest retained seq, the latest seq) of the project's change log."""
    changefeed.number_all_pending([project_id])  # a row left unnumbered must not escape the walk
    latest = changefeed.latest_seq(project_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(seq) FROM basalt_change_log WHERE project_id = %s", [project_id])
        oldest = cursor.fetchone()[0]
    return (max(0, oldest - 1) if oldest is not None else latest), latest


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _json_path(name: str) -> str:
    # Field names are [a-z][a-z0-9_]*, checked at schema time; quoted anyway.
    return f'$."{name}"'


def _documents_batch(purge: FieldPurge) -> bool:
    """Remove the key from the next BATCH documents in (created_at, id) order; True if more remain."""
    after = purge.doc_after
    sql = "SELECT created_at, id FROM basalt_document WHERE collection_id = %s"
    params: list[Any] = [purge.collection_id]
    if after is not None:
        sql += " AND (created_at > %s OR (created_at = %s AND id > %s))"
        moment = _stored_time(after[0])
        params += [moment, moment, after[1]]
    sql += " ORDER BY created_at, id LIMIT %s"
    params.append(BATCH)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if not rows:
            return False
        ids = [row[1] for row in rows]
        marks = ", ".join(["%s"] * len(ids))
        if _pg():
            cursor.execute(
                f"UPDATE basalt_document SET data = data - %s::text WHERE collection_id = %s "  # noqa: S608
                f"AND id IN ({marks}) AND data ? %s::text",
                [purge.name, purge.collection_id, *ids, purge.name],
            )
        else:
            path = _json_path(purge.name)
            cursor.execute(
                f"UPDATE basalt_document SET data = json_remove(data, %s) WHERE collection_id = %s "  # noqa: S608
                f"AND id IN ({marks}) AND json_type(data, %s) IS NOT NULL",
                [path, purge.collection_id, *ids, path],
            )
    last_time, last_id = rows[-1]
    purge.doc_after = [last_time.isoformat() if isinstance(last_time, datetime) else str(last_time), last_id]
    return len(rows) == BATCH


def _stored_time(saved: str) -> Any:
    """The keyset position back in the column's own form (a datetime, or SQLite's stored text)."""
    try:
        return store.db_time(datetime.fromisoformat(saved))
    except ValueError:
        return saved


def _edges_batch(purge: FieldPurge) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM basalt_relation WHERE id IN (SELECT id FROM basalt_relation "
            "WHERE collection_id = %s AND field = %s LIMIT %s)",
            [purge.collection_id, purge.name, BATCH],
        )
        return cursor.rowcount == BATCH


def _change_log_batch(purge: FieldPurge) -> None:
    """Strip the key from the before/after copies of the next BATCH seqs of this collection."""
    low, high = purge.log_after, min(purge.log_after + BATCH, purge.log_until or 0)
    where = "project_id = %s AND collection = %s AND seq > %s AND seq <= %s"
    scope = [purge.collection.project_id, purge.collection.name, low, high]
    with connection.cursor() as cursor:
        if _pg():
            cursor.execute(
                "UPDATE basalt_change_log SET before = before - %s::text, after = after - %s::text "  # noqa: S608
                f"WHERE {where} AND (before ? %s::text OR after ? %s::text)",
                [purge.name, purge.name, *scope, purge.name, purge.name],
            )
        else:
            path = _json_path(purge.name)
            cursor.execute(
                "UPDATE basalt_change_log SET before = json_remove(before, %s), after = json_remove(after, %s) "  # noqa: S608
                f"WHERE {where} AND (json_type(before, %s) IS NOT NULL OR json_type(after, %s) IS NOT NULL)",
                [path, path, *scope, path, path],
            )
    purge.log_after = high

"""Celery tasks of the documents area: index builds and drops, field purges (ids in, idempotent, state on the row)."""

from __future__ import annotations

from celery import shared_task

from basalt.documents import indexes


@shared_task(name="documents.build_collection_index", acks_late=True)
def build_collection_index(index_id: int) -> str:
    return indexes.build_index(int(index_id))


@shared_task(name="documents.drop_collection_index", acks_late=True)
def drop_collection_index(index_id: int) -> str:
    return indexes.drop_index(int(index_id))


@shared_task(name="documents.drop_index_names", acks_late=True)
def drop_index_names(db_names: list[str]) -> None:
    indexes.drop_names([str(name) for name in db_names])


@shared_task(name="documents.purge_removed_field", acks_late=True)
def purge_removed_field(purge_id: int) -> str:
    from basalt.documents import purge

    return purge.run(int(purge_id))

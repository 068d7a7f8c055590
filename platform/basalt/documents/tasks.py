"""Celery tasks of the documents area: index builds and drops, field purges (ids in, idempotent, state on the row)."""

from __future__ import annotations

from celery import shared_task

from basalt.documents import indexes, statistics


@shared_task(bind=True, name="documents.build_collection_index", acks_late=True, max_retries=8)
def build_collection_index(self, index_id: int) -> str:
    try:
        return indexes.build_index(int(index_id))
    except indexes.TransientBuildError as exc:
        retries = self.request.retries or 0
        if retries >= self.max_retries:
            return indexes.give_up(int(index_id), str(exc))
        if self.request.is_eager:
            # Run inline (tests, shell commands): no queue to wait on, so try again at once.
            return build_collection_index.apply(args=[index_id], retries=retries + 1).get()
        raise self.retry(countdown=min(300, 5 * 2**retries)) from exc


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


@shared_task(name="documents.analyze_statistics", ignore_result=True)
def analyze_statistics() -> None:
    """SQLite's periodic analysis of the documents table, off the request that counted the writes."""
    statistics.refresh()


@shared_task(name="documents.refresh_statistics", ignore_result=True)
def refresh_statistics(collection_id: int, look_again: bool = True) -> bool:
    return statistics.refresh_if_grown(int(collection_id), look_again)

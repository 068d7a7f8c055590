"""Background work of the files area: thumbnails on upload, orphan sweep, expiry of incomplete uploads."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="files.make_thumbnails", acks_late=True)
def make_thumbnails(file_id: str) -> int:
    from basalt.files.thumbs import make_all

    return make_all(file_id)


@shared_task(name="files.expire_uploads", acks_late=True)
def expire_uploads() -> int:
    from basalt.files.sweep import expire_uploads as run

    return run()


@shared_task(name="files.sweep_orphans", acks_late=True)
def sweep_orphans() -> int:
    from basalt.files.sweep import sweep_orphans as run

    return run()

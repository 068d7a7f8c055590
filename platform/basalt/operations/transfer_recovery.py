"""Transfers whose worker died: found, and run again from the start (API.md §12).

A transfer's runner holds a liveness lock for as long as it runs: a PostgreSQL advisory lock on
its own connection (any host; freed when the connection or process dies), or on SQLite, a single
host, an flock on a file in the data folder (freed by the OS with the process). A transfer that
is `running` while nobody holds its lock lost its worker: `recover` queues it again, at most
MAX_ATTEMPTS times in all, then marks it failed (`interrupted`).

Again from the start, not from where it stopped: an archive is one stream under one snapshot.
An export's partial archive is removed and written anew; an import or clone ran in one
transaction, which rolled back with the worker's connection, so the project is still empty and
the uploaded archive still in storage. A queued transfer whose task message was lost is queued
again after LEASE. Transfers of a scheduled `export` job are left to that job (export_job
replaces a lost one at its next run).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F
from django.utils import timezone

from basalt.files.storage import get_storage
from basalt.operations.models import Transfer

logger = logging.getLogger("basalt.operations.transfer_recovery")
MAX_ATTEMPTS = 3
LEASE = timedelta(minutes=5)  # how long a queued transfer may wait for its task before it is sent again


def _lock_number(transfer_id: str) -> int:
    digest = hashlib.blake2b(f"basalt-transfer:{transfer_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def liveness(transfer_id: str) -> Iterator[bool]:
    """Hold the transfer's lock while the block runs; yields False when another process holds it."""
    if connection.vendor == "postgresql":
        number = _lock_number(transfer_id)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [number])
            held = cursor.fetchone()[0]
        try:
            yield held
        finally:
            if held:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [number])
                except DatabaseError:  # the connection is gone, and its lock with it
                    logger.warning("could not release transfer %s's lock", transfer_id, exc_info=True)
        return
    folder = settings.DATA_DIR / "transfers"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{transfer_id}.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def recover() -> int:
    """Queue again (or fail, past MAX_ATTEMPTS) the running transfers nobody runs; returns how many were found."""
    from basalt.operations import transfers

    found, again = 0, []
    for transfer in Transfer.objects.filter(status=Transfer.RUNNING, job_id="").select_related("project"):
        with liveness(transfer.id) as free:
            if not free:
                continue  # its worker is alive
            found += 1
            lost = Transfer.objects.filter(id=transfer.id, status=Transfer.RUNNING)
            if transfer.kind == Transfer.EXPORT:
                get_storage().delete_prefix(transfers.export_key(transfer.project, transfer.id))
            if transfer.attempts + 1 >= MAX_ATTEMPTS:
                if transfer.kind == Transfer.IMPORT:
                    get_storage().delete_prefix(f"transfers/{transfer.id}/")
                lost.update(
                    status=Transfer.FAILED, finished_at=timezone.now(), archive_size=None,
                    error={"code": "interrupted", "message": f"Its worker stopped {MAX_ATTEMPTS} times."},
                )  # fmt: skip
                continue
            logger.warning("transfer %s lost its worker; running it again", transfer.id)
            now = timezone.now()
            if lost.update(status=Transfer.QUEUED, started_at=None, attempts=F("attempts") + 1, queued_at=now):
                again.append(transfer.id)
    waiting = Transfer.objects.filter(status=Transfer.QUEUED, job_id="", queued_at__lt=timezone.now() - LEASE)
    for transfer_id in waiting.values_list("id", flat=True):
        if Transfer.objects.filter(id=transfer_id, status=Transfer.QUEUED).update(queued_at=timezone.now()):
            again.append(transfer_id)
    for transfer_id in again:  # after the locks are let go: an inline (eager) run takes its own
        transfers.enqueue_now(transfer_id)
    return found

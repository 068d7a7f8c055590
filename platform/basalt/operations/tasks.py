"""Periodic operations work (idempotent, bounded per batch)."""

from __future__ import annotations

from celery import shared_task

from basalt.operations import idempotency


@shared_task(name="operations.purge_idempotency", ignore_result=True)
def purge_idempotency() -> int:
    return idempotency.purge_expired()


@shared_task(name="operations.purge_audit", ignore_result=True)
def purge_audit() -> int:
    from basalt.operations import audit

    return audit.purge_expired()


@shared_task(name="operations.run_transfer", ignore_result=True)
def run_transfer(transfer_id: str) -> None:
    from basalt.operations import transfers

    transfers.run(transfer_id)


@shared_task(name="operations.recover_transfers", ignore_result=True)
def recover_transfers() -> int:
    from basalt.operations import transfer_recovery

    return transfer_recovery.recover()

"""Periodic usage work: move cached counters into the database, snapshot sizes (idempotent)."""

from __future__ import annotations

from celery import shared_task

from basalt.usage import counters, services


@shared_task(name="usage.flush_counters", acks_late=True)
def flush_counters() -> int:
    return counters.flush_all()


@shared_task(name="usage.snapshot_sizes", acks_late=True)
def snapshot_sizes() -> int:
    return services.snapshot_sizes()

"""Periodic trimming of request logs (beat), beside the flusher's own trimming of busy projects."""

from __future__ import annotations

from celery import shared_task

from basalt.logs import buffer


@shared_task(name="logs.trim")
def trim_request_logs() -> int:
    buffer.flush()
    return buffer.trim()

"""Queue a documents-area task without letting a broker outage fail the committed change that asked for it."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("basalt.documents.jobs")


def enqueue(task: Any, *args: Any, countdown: float | None = None) -> None:
    """`task.delay(*args)` (or after `countdown` seconds); on failure the job's row stays as it is,
    to be queued again later."""
    try:
        task.apply_async(args, countdown=countdown)
    except Exception:  # a broker outage must not fail a committed schema change
        logger.exception("could not queue %s%r", task.name, args)

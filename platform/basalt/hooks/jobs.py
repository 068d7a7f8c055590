"""Run scheduled jobs: claim due fires (never two runs of one job at once), execute, resume lost runs."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from basalt.core.errors import Conflict
from basalt.hooks import job_kinds, schedule
from basalt.hooks.models import Job, JobRun

logger = logging.getLogger("basalt.hooks.jobs")
# A running run whose heartbeat is older than this lost its worker: it is queued again (resumed).
STALE = timedelta(minutes=5)


def _locked(job_id: str) -> Job | None:
    rows = Job.objects.filter(id=job_id)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update()
    return rows.select_related("project").first()


def _running(job: Job) -> JobRun | None:
    return JobRun.objects.filter(job=job, status=JobRun.RUNNING).first()


def _enqueue(run_id: int) -> None:
    from basalt.hooks import tasks

    transaction.on_commit(lambda: tasks.run_job.delay(run_id))


def start_run(job_id: str, trigger: str, scheduled_for=None) -> JobRun | None:
    """A new run of the job, or None (schedule) / Conflict (manual) while one is still running."""
    with transaction.atomic():
        job = _locked(job_id)
        if job is None:
            return None
        if _running(job) is not None:
            if trigger == "manual":
                raise Conflict("A run of this job is still in progress.")
            return None
        run = JobRun.objects.create(job=job, trigger=trigger, scheduled_for=scheduled_for)
        _enqueue(run.id)
        return run


def run_due() -> int:
    """Beat: start every job whose next fire has come, move it to the following fire; resume lost runs."""
    now = timezone.now()
    started = 0
    for job in Job.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")[:200]:
        following = schedule.next_after(job.cron, job.time_zone, now)
        # The conditional update claims this fire: a second beat (or process) finds it moved on.
        if not Job.objects.filter(id=job.id, next_run_at=job.next_run_at).update(next_run_at=following):
            continue
        if start_run(job.id, "schedule", job.next_run_at) is not None:
            started += 1
        else:
            logger.info("job %s skipped a fire: the previous run is still running", job.id)
    stale = JobRun.objects.filter(status=JobRun.RUNNING, heartbeat_at__lt=now - STALE)
    for run_id in list(stale.values_list("id", flat=True)[:100]):
        if JobRun.objects.filter(id=run_id, heartbeat_at__lt=now - STALE).update(heartbeat_at=now):
            _enqueue(run_id)
    return started


def execute(run_id: int) -> None:
    """Run one slice of a run; queue the next slice, or record how it ended."""
    run = JobRun.objects.filter(id=run_id, status=JobRun.RUNNING).select_related("job", "job__project").first()
    if run is None:
        return
    kind = job_kinds.KINDS.get(run.job.kind)
    now = timezone.now()
    try:
        if kind is None:
            raise RuntimeError(f"unknown job kind {run.job.kind!r}")
        outcome = kind.run(run.job, run)
    except Exception as exc:  # the run records why it failed; the schedule stays
        logger.warning("job run %s failed", run_id, exc_info=True)
        JobRun.objects.filter(id=run_id).update(
            status=JobRun.FAILED, finished_at=now, heartbeat_at=now, counts=run.counts, error=str(exc)[:500]
        )
        return
    if outcome == job_kinds.CONTINUE:
        JobRun.objects.filter(id=run_id).update(counts=run.counts, heartbeat_at=timezone.now())
        _enqueue(run_id)
        return
    now = timezone.now()
    JobRun.objects.filter(id=run_id).update(
        status=JobRun.SUCCEEDED, finished_at=now, heartbeat_at=now, counts=run.counts
    )

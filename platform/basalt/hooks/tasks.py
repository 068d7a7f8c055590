"""Celery tasks of the hooks area (ids in, idempotent, state on the rows)."""

from __future__ import annotations

from celery import shared_task

from basalt.hooks import dispatch as flow


@shared_task(name="hooks.dispatch", ignore_result=True)
def dispatch(project_id: int) -> int:
    return flow.dispatch_project(project_id)


@shared_task(name="hooks.deliver", ignore_result=True)
def deliver(endpoint_id: str) -> int:
    return flow.deliver_endpoint(endpoint_id)


@shared_task(name="hooks.sweep", ignore_result=True)
def sweep() -> None:
    flow.sweep()


@shared_task(name="hooks.run_due_jobs", ignore_result=True)
def run_due_jobs() -> int:
    from basalt.hooks import jobs

    return jobs.run_due()


@shared_task(name="hooks.run_job", ignore_result=True)
def run_job(run_id: int) -> None:
    from basalt.hooks import jobs

    jobs.execute(run_id)

"""Scheduled jobs for console members: create, change, remove, list runs, run now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from basalt.accounts.models import Account
from basalt.core.errors import Conflict, NotFound, ValidationFailed
from basalt.core.json import NUL_MESSAGE
from basalt.hooks import job_kinds, jobs, schedule, signing
from basalt.hooks.models import Job, JobRun
from basalt.projects.models import Project
from basalt.projects.roles import Perm
from basalt.projects.services import _only_fields, access_project

FIELDS = {"name", "kind", "cron", "timezone", "config", "enabled"}
MAX_JOBS = 50
RUNS_PAGE = 50


@dataclass
class NewJob:
    job: Job
    secret: str | None


def _clean(project: Project, body: dict[str, Any], current: Job | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in body or current is None:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise ValidationFailed(details={"name": ["A name of 1 to 100 characters."]})
        if "\x00" in name:
            raise ValidationFailed(details={"name": [NUL_MESSAGE]})
        out["name"] = name.strip()
    kind_name = current.kind if current else body.get("kind")
    if current is not None and "kind" in body and body["kind"] != current.kind:
        raise ValidationFailed(details={"kind": ["A job's kind cannot change; create another job."]})
    # A dict or list from the body cannot be looked up in a dict (TypeError: unhashable).
    kind = job_kinds.KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if isinstance(kind_name, str) and kind_name in job_kinds.NOT_BUILT:
        raise ValidationFailed(details={"kind": [job_kinds.NOT_BUILT[kind_name]]})
    if kind is None:
        raise ValidationFailed(details={"kind": [f"One of: {', '.join(sorted(job_kinds.KINDS))}."]})
    out["kind"] = kind.name
    if "config" in body or current is None:
        out["config"] = kind.clean(project, body.get("config", {}))
    cron = body.get("cron", current.cron if current else None)
    tz = body.get("timezone", current.time_zone if current else "UTC")
    if "cron" in body or "timezone" in body or current is None:
        try:
            out["next_run_at"] = schedule.check(cron, tz, timezone.now())
        except schedule.BadSchedule as exc:
            raise ValidationFailed(details={exc.field: [str(exc)]}) from None
        out["cron"], out["time_zone"] = cron.strip(), tz
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise ValidationFailed(details={"enabled": ["true or false."]})
        out["enabled"] = body["enabled"]
        if body["enabled"] and current is not None and not current.enabled and "next_run_at" not in out:
            out["next_run_at"] = schedule.next_after(current.cron, current.time_zone, timezone.now())
    return out


def list_jobs(account: Account, ref: str) -> list[Job]:
    project = access_project(account, ref, Perm.VIEW)
    return list(Job.objects.filter(project=project).order_by("created_at"))


def get_job(account: Account, ref: str, job_id: Any, perm: Perm = Perm.VIEW) -> Job:
    project = access_project(account, ref, perm)
    job = Job.objects.filter(project=project, id=str(job_id)[:40]).select_related("project").first()
    if job is None:
        raise NotFound("Job not found.")
    return job


def create_job(account: Account, ref: str, body: Any) -> NewJob:
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    data = _clean(project, _only_fields(body, FIELDS), None)
    secret = signing.new_secret() if job_kinds.KINDS[data["kind"]].needs_secret else None
    with transaction.atomic():
        if Job.objects.filter(project=project).count() >= MAX_JOBS:
            raise Conflict(f"A project may have at most {MAX_JOBS} scheduled jobs.")
        job = Job.objects.create(project=project, secret_sealed=signing.seal(secret) if secret else "", **data)
    return NewJob(job, secret)


def update_job(account: Account, ref: str, job_id: Any, body: Any) -> Job:
    job = get_job(account, ref, job_id, Perm.MANAGE_SETTINGS)
    data = _clean(job.project, _only_fields(body, FIELDS), job)
    for name, value in data.items():
        setattr(job, name, value)
    job.updated_at = timezone.now()
    job.save()
    return job


def delete_job(account: Account, ref: str, job_id: Any) -> None:
    get_job(account, ref, job_id, Perm.MANAGE_SETTINGS).delete()


def run_now(account: Account, ref: str, job_id: Any) -> JobRun:
    job = get_job(account, ref, job_id, Perm.MANAGE_SETTINGS)
    run = jobs.start_run(job.id, "manual")
    if run is None:
        raise NotFound("Job not found.")
    run.refresh_from_db()
    return run


def list_runs(account: Account, ref: str, job_id: Any) -> list[JobRun]:
    job = get_job(account, ref, job_id)
    return list(JobRun.objects.filter(job=job).order_by("-started_at", "-id")[:RUNS_PAGE])

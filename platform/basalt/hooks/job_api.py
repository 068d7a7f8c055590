"""Management-API faces of scheduled jobs (API.md §11)."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import APIView

from basalt.hooks import job_services as services
from basalt.hooks.api import _time
from basalt.hooks.models import Job, JobRun


def job_out(job: Job, secret: str | None = None) -> dict[str, Any]:
    out = {
        "id": job.id,
        "name": job.name,
        "kind": job.kind,
        "cron": job.cron,
        "timezone": job.time_zone,
        "config": job.config,
        "enabled": job.enabled,
        "next_run_at": _time(job.next_run_at) if job.enabled else None,
        "created_at": _time(job.created_at),
        "updated_at": _time(job.updated_at),
    }
    if secret is not None:
        out["secret"] = secret  # a webhook job's signing secret, in the create response only
    return out


def run_out(run: JobRun) -> dict[str, Any]:
    duration = None
    if run.finished_at is not None:
        duration = int((run.finished_at - run.started_at).total_seconds() * 1000)
    return {
        "id": run.id,
        "job": run.job_id,
        "trigger": run.trigger,
        "status": run.status,
        "scheduled_for": _time(run.scheduled_for),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "duration_ms": duration,
        "counts": run.counts,
        "error": run.error or None,
    }


class JobListView(APIView):
    def get(self, request, ref):
        return Response({"results": [job_out(j) for j in services.list_jobs(request.user, ref)]})

    def post(self, request, ref):
        new = services.create_job(request.user, ref, request.data)
        return Response(job_out(new.job, new.secret), status=201)


class JobView(APIView):
    def get(self, request, ref, job_id):
        return Response(job_out(services.get_job(request.user, ref, job_id)))

    def patch(self, request, ref, job_id):
        return Response(job_out(services.update_job(request.user, ref, job_id, request.data)))

    def delete(self, request, ref, job_id):
        services.delete_job(request.user, ref, job_id)
        return Response(status=204)


class JobRunsView(APIView):
    def get(self, request, ref, job_id):
        return Response({"results": [run_out(r) for r in services.list_runs(request.user, ref, job_id)]})

    def post(self, request, ref, job_id):
        return Response(run_out(services.run_now(request.user, ref, job_id)), status=202)

"""Scheduled jobs page: list, add (a webhook job's secret shown once), run now, recent runs."""

from __future__ import annotations

import orjson
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError
from basalt.hooks import job_kinds, job_services
from basalt.hooks.job_api import run_out
from console.views.common import ProjectAccess, attach_errors, page, project_context, project_view


class JobForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    kind = forms.ChoiceField(label="Kind", choices=[(k, k) for k in job_kinds.KINDS])
    cron = forms.CharField(label="Cron (minute hour day month weekday)", max_length=120, initial="0 3 * * *")
    timezone = forms.CharField(label="Timezone", max_length=64, initial="UTC")
    config = forms.CharField(
        label="Settings (JSON)",
        max_length=8000,
        widget=forms.Textarea(attrs={"rows": 3}),
        initial='{"collection": "posts", "older_than_days": 30}',
        help_text='purge: {"collection", "where"?, "older_than_days"?, "batch"?}; webhook: {"url"}',
    )


def _page(request: HttpRequest, access: ProjectAccess, status: int = 200, **extra) -> HttpResponse:
    jobs = job_services.list_jobs(request.user, access.project.ref)
    recent = {
        job.id: [run_out(r) for r in job_services.list_runs(request.user, access.project.ref, job.id)[:5]]
        for job in jobs
    }
    context = project_context(
        access, "jobs", jobs=[(job, recent[job.id]) for job in jobs], form=extra.pop("form", None) or JobForm(), **extra
    )
    return page(request, "console/webhooks/jobs.html", context, status=status)


@project_view
def jobs(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _page(request, access)


@project_view
def job_create(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = JobForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        try:
            data["config"] = orjson.loads(data["config"])
        except orjson.JSONDecodeError:
            form.add_error("config", "Not valid JSON.")
        else:
            try:
                new = job_services.create_job(request.user, access.project.ref, data)
            except BasaltError as exc:
                if exc.status == 403:
                    raise
                attach_errors(
                    form, exc, {"config.url": "config", "config.collection": "config", "config.where": "config"}
                )
            else:
                return _page(request, access, status=201, new=new)
    return _page(request, access, status=400, form=form)


@project_view
def job_run(request: HttpRequest, access: ProjectAccess, job_id: str) -> HttpResponse:
    try:
        run = job_services.run_now(request.user, access.project.ref, job_id)
    except BasaltError as exc:
        if exc.status != 409:
            raise
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Run {run.id}: {run.status}.")
    return redirect("console:jobs", access.project.ref)


@project_view
def job_delete(request: HttpRequest, access: ProjectAccess, job_id: str) -> HttpResponse:
    job_services.delete_job(request.user, access.project.ref, job_id)
    messages.success(request, "Job deleted.")
    return redirect("console:jobs", access.project.ref)

"""Project list, creation, overview (API URL, keys, quickstart), renaming and deletion."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from basalt.core.errors import BasaltError
from basalt.projects import services
from console.forms import KeyForm, ProjectNameForm
from console.quickstart import quickstart_snippets
from console.views.common import (
    ProjectAccess,
    attach_errors,
    invalid,
    load_access,
    page,
    project_context,
    project_view,
    signed_in,
)


@signed_in
def project_list(request: HttpRequest) -> HttpResponse:
    form = ProjectNameForm(request.POST or None)
    context = {"form": form, "section": "projects"}
    if request.method == "POST":
        if form.is_valid():
            try:
                project = services.create_project(request.user, form.cleaned_data["name"])
            except BasaltError as exc:
                attach_errors(form, exc)
            else:
                # A first publishable key, shown once, so the quickstart works straight away.
                new_key = services.create_key_for(request.user, project.ref, "publishable", "Default")
                return _render_home(
                    request, load_access(request.user, project.ref), new_key=new_key, created=True, status=201
                )
        context["projects"] = services.list_projects(request.user)
        return invalid(request, "console/projects/list.html", context)
    context["projects"] = services.list_projects(request.user)
    return page(request, "console/projects/list.html", context)


def _render_home(
    request: HttpRequest, access: ProjectAccess, *, new_key=None, key_form=None, created=False, status: int = 200
) -> HttpResponse:
    keys = services.list_keys(request.user, access.project.ref)
    api_url = request.build_absolute_uri("/api/v1")
    publishable = new_key.raw if new_key is not None and new_key.key.kind == "publishable" else None
    context = project_context(
        access,
        "home",
        keys=keys,
        active_keys=[key for key in keys if key.is_active],
        new_key=new_key,
        created=created,
        key_form=key_form or KeyForm(),
        api_url=api_url,
        snippets=quickstart_snippets(api_url, publishable),
        has_publishable=any(key.is_active and key.kind == "publishable" for key in keys),
    )
    return page(request, "console/projects/home.html", context, status=status)


@project_view
def project_home(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _render_home(request, access)


@require_POST
@project_view
def key_create(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = KeyForm(request.POST)
    if form.is_valid():
        try:
            new_key = services.create_key_for(
                request.user, access.project.ref, form.cleaned_data["kind"], form.cleaned_data["name"]
            )
        except BasaltError as exc:
            if exc.status == 403:
                raise
            attach_errors(form, exc)
        else:
            # Rendered, not redirected: the raw key exists only in this response.
            return _render_home(request, access, new_key=new_key, status=201)
    return _render_home(request, access, key_form=form, status=400)


@require_POST
@project_view
def key_revoke(request: HttpRequest, access: ProjectAccess, key_id: str) -> HttpResponse:
    key = services.revoke_key(request.user, access.project.ref, key_id)
    messages.success(request, f"Key …{key.last4} revoked. Requests using it now get 401 invalid_api_key.")
    return redirect("console:project", access.project.ref)

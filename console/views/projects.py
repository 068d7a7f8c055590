"""Project list, creation, overview (API URL, keys, quickstart with its sample collection)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from basalt.core.errors import BasaltError
from basalt.documents import catalog
from basalt.identity.auth_settings import auth_settings
from basalt.parse.objects import client_class_creation
from basalt.projects import services
from basalt.projects.roles import Perm
from console import quickstart
from console.actions import push_url
from console.forms import KeyForm, ProjectNameForm
from console.schema_forms import PRESETS
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
                home = _render_home(
                    request, load_access(request.user, project.ref), new_key=new_key, created=True, status=201
                )
                return push_url(request, home, reverse("console:project", args=[project.ref]))
        context["projects"] = services.list_projects_with_roles(request.user)
        return invalid(request, "console/projects/list.html", context)
    context["projects"] = services.list_projects_with_roles(request.user)
    return page(request, "console/projects/list.html", context)


def _render_home(
    request: HttpRequest,
    access: ProjectAccess,
    *,
    new_key=None,
    key_form=None,
    created=False,
    sample_notice: str = "",
    status: int = 200,
) -> HttpResponse:
    keys = services.list_keys(request.user, access.project.ref)
    server_url = request.build_absolute_uri("/").rstrip("/")
    api_url = server_url + "/api/v1"
    publishable = new_key.raw if new_key is not None and new_key.key.kind == "publishable" else None
    collections = catalog.list_collections(access.project)
    snippets = quickstart.quickstart(api_url, server_url, publishable, collections, auth_settings(access.project))
    context = project_context(
        access,
        "home",
        keys=keys,
        active_keys=[key for key in keys if key.is_active],
        new_key=new_key,
        created=created,
        key_form=key_form or KeyForm(),
        api_url=api_url,
        snippets=snippets,
        sample_notice=sample_notice,
        key_inlined=publishable is not None,
        key_placeholder=quickstart.KEY_PLACEHOLDER,
        # One click to a collection the snippet works with, while none of the project's does.
        offer_sample=not any(s.plan and s.plan.works for s in snippets),
        sample_name=quickstart.sample_name({c["name"] for c in collections}),
        has_publishable=any(key.is_active and key.kind == "publishable" for key in keys),
        parse_url=server_url + "/parse",
        parse_ws_url=server_url.replace("http", "ws", 1) + "/parse",
        parse_client_classes=client_class_creation(access.project),
    )
    return page(request, "console/projects/home.html", context, status=status)


@project_view
def project_home(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _render_home(request, access)


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


@project_view
def key_revoke(request: HttpRequest, access: ProjectAccess, key_id: str) -> HttpResponse:
    key = services.revoke_key(request.user, access.project.ref, key_id)
    messages.success(request, f"Key …{key.last4} revoked. Requests using it now get 401 invalid_api_key.")
    return redirect("console:project", access.project.ref)


@project_view
def parse_settings(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """Turn Parse client class creation (classes and fields made by a client's first write) on or off."""
    allow = request.POST.get("allow_client_class_creation") == "on"
    services.change_project_settings(
        request.user, access.project.ref, {"parse": {"allow_client_class_creation": allow}}
    )
    state = "on: Parse clients create classes and fields on their first write" if allow else "off"
    messages.success(request, f"Client class creation is {state}.")
    return redirect(reverse("console:project", args=[access.project.ref]) + "#parse")


@project_view
def sample_collection(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """Create a collection the quickstart works with as pasted (signed-in users create, anyone reads)."""
    project = services.access_project(request.user, access.project.ref, Perm.CHANGE_SCHEMA)
    taken = {c["name"] for c in catalog.list_collections(project)}
    preset = PRESETS["public_read_owner_write"]
    body = {
        "name": quickstart.sample_name(taken),
        "fields": quickstart.SAMPLE_FIELDS,
        "permissions": preset["permissions"],
        "default_acl": preset["default_acl"],
    }
    try:
        created = catalog.create_collection(project, body)
    except BasaltError as exc:
        if exc.status == 403:
            raise
        notice, ok = exc.message, False
    else:
        notice, ok = f"Collection “{created['name']}” created; the quickstart below now uses it.", True
    if request.headers.get("HX-Request"):
        # Only the quickstart card is swapped (the form's hx-select): a key shown once above stays.
        return _render_home(request, access, sample_notice=notice, status=200 if ok else 400)
    (messages.success if ok else messages.error)(request, notice)
    return redirect(reverse("console:project", args=[access.project.ref]) + "#quickstart")

"""Shared plumbing for console views: sign-in gate, project access, service errors on forms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from basalt.core.errors import BasaltError, NotFound, PermissionDenied, ValidationFailed
from basalt.projects import services
from basalt.projects.models import Project
from basalt.projects.roles import ROLE_PERMISSIONS, Perm
from console.limits import input_limits
from console.preconditions import StaleForm


@dataclass
class ProjectAccess:
    """What the signed-in account may do on the project in view; templates read `can.<perm>`."""

    project: Project
    role: str
    can: dict[str, bool] = field(default_factory=dict)
    # Every project of the account (ref, name, role), for the sidebar's project switcher.
    projects: list[tuple[str, str, str]] = field(default_factory=list)


def page(request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    # `limits`: the server's own input lengths, for every box's maxlength.
    return render(request, template, {"limits": input_limits(), **(context or {})}, status=status)


def error_page(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    template = "console/errors/error.html" if request.user.is_authenticated else "console/errors/error_public.html"
    return page(request, template, {"status": status, "title": title, "message": message}, status=status)


def signed_in(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send anonymous visitors to the sign-in page, remembering where they were going."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect(reverse("console:signin") + "?" + urlencode({"next": request.get_full_path()}))
        return view(request, *args, **kwargs)

    return wrapped


def load_access(account, ref: str) -> ProjectAccess:
    project = services.access_project(account, ref)
    memberships = services.list_projects_with_roles(account)
    role = next((r for p, r in memberships if p.pk == project.pk), "viewer")
    granted = ROLE_PERMISSIONS.get(role, frozenset())
    return ProjectAccess(
        project=project,
        role=role,
        can={perm.name.lower(): perm in granted for perm in Perm},
        projects=[(p.ref, p.name, r) for p, r in memberships],
    )


def project_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Resolve the project for a signed-in member; a non-member sees the same 404 as a missing project.

    Services still check the permission of every action: `can` only decides which buttons appear.
    """

    @signed_in
    @wraps(view)
    def wrapped(request: HttpRequest, ref: str, *args, **kwargs) -> HttpResponse:
        try:
            request.access = load_access(request.user, ref)
            return view(request, request.access, *args, **kwargs)
        except NotFound as exc:
            return error_page(request, 404, "Not found", exc.message or "This page does not exist.")
        except PermissionDenied as exc:
            return error_page(request, 403, "Not allowed", exc.message)

    return wrapped


def project_context(access: ProjectAccess, section: str, **extra: Any) -> dict[str, Any]:
    return {
        "project": access.project,
        "role": access.role,
        "can": access.can,
        "section": section,
        "my_projects": access.projects,
        **extra,
    }


def saved_through(form: forms.Form, action, field_map: dict[str, str] | None = None) -> bool:
    """Run a service call for a valid form; refusals (403) and stale forms propagate, other errors
    land on the form."""
    if not form.is_valid():
        return False
    try:
        action()
    except BasaltError as exc:
        if exc.status == 403 or isinstance(exc, StaleForm):
            raise
        attach_errors(form, exc, field_map)
        return False
    return True


def error_messages(exc: BasaltError) -> list[str]:
    """What a person reads about an error: the per-field messages of a validation error, else its
    own message (other errors' details are metadata such as the field or operator, not messages)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    found = [str(m) for value in details.values() if isinstance(value, list) for m in value]
    return found or [exc.message]


def attach_errors(form: forms.Form, error: BasaltError, field_map: dict[str, str] | None = None) -> None:
    """Show a service's validation details next to the matching inputs, the rest above the form."""
    field_map = field_map or {}
    details = error.details if isinstance(error, ValidationFailed) and isinstance(error.details, dict) else None
    if not details:
        form.add_error(None, error.message)
        return
    for key, messages in details.items():
        target = field_map.get(key, key)
        if isinstance(messages, str):
            messages = [messages]
        for message in messages if isinstance(messages, list) else [str(messages)]:
            text = message if isinstance(message, str) else str(message)
            if target in form.fields:
                form.add_error(target, text)
            else:
                form.add_error(None, f"{key}: {text}" if key not in ("non_field_errors", "body") else text)


def invalid(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """Re-render a form page with its errors; 400 tells tests and htmx that nothing was saved."""
    return page(request, template, context, status=400)

"""Roles: list, create, delete; a role's users and child roles (roles whose members inherit it)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError, NotFound, ValidationFailed
from basalt.documents.finding import find_documents
from basalt.identity import roles as identity_roles
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console.caller import console_caller
from console.views.common import ProjectAccess, error_messages, page, project_context, project_view

DETAILED_ROLES = 50


def _caller(request: HttpRequest, access: ProjectAccess, perm: Perm):
    project = access_project(request.user, access.project.ref, perm)
    return console_caller(project, request.user.pk)


@project_view
def role_list(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    errors: list[str] = []
    if request.method == "POST":
        caller = _caller(request, access, Perm.CHANGE_DATA)
        name = (request.POST.get("name") or "").strip()
        try:
            identity_roles.create_role(caller, {"name": name})
        except BasaltError as exc:
            if exc.status in (403, 404):
                raise
            errors = error_messages(exc)
        else:
            messages.success(request, f"Role “{name}” created. Add its users below.")
            return redirect("console:role", access.project.ref, name)
    caller = _caller(request, access, Perm.VIEW)
    listed = identity_roles.list_roles(caller)
    # Member counts cost a lookup per role: shown while the list is short enough to stay quick.
    rows = [identity_roles.get_role(caller, r["name"]) for r in listed] if len(listed) <= DETAILED_ROLES else listed
    context = project_context(
        access, "users", tab="roles", roles=rows, errors=errors, posted=request.POST if errors else {}
    )
    return page(request, "console/users/roles.html", context, status=400 if errors else 200)


def _user_labels(caller, ids: list[str]) -> list[dict[str, Any]]:
    """Show members by email/username, read from the `users` collection in one query."""
    if not ids:
        return []
    try:
        found = find_documents(caller, "users", {"where": {"id": {"$in": ids[:1000]}}, "limit": 1000})["results"]
    except NotFound:
        found = []
    by_id = {u["id"]: u for u in found}
    return [
        {"id": i, "label": (by_id.get(i) or {}).get("email") or (by_id.get(i) or {}).get("username") or i} for i in ids
    ]


def _role_page(request, access, name: str, errors: dict[str, list[str]] | None = None, status: int = 200):
    caller = _caller(request, access, Perm.VIEW)
    role = identity_roles.get_role(caller, name)
    others = [
        r["name"] for r in identity_roles.list_roles(caller) if r["name"] != name and r["name"] not in role["roles"]
    ]
    context = project_context(
        access,
        "users",
        tab="roles",
        # Not `role`: base.html shows the member's console role under that name.
        erole=role,
        members=_user_labels(caller, role["users"]),
        candidates=others,
        errors=errors or {},
    )
    return page(request, "console/users/role.html", context, status=status)


@project_view
def role_detail(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    return _role_page(request, access, name)


def _resolve_user(caller, text: str) -> str:
    """A user id, or the id of the user with that email or username."""
    text = text.strip()
    if not text:
        raise ValidationFailed(details={"user": ["Enter a user's email, username or id."]})
    where = {"$or": [{"id": text}, {"email": text.lower()}, {"username": text}]}
    try:
        found = find_documents(caller, "users", {"where": where, "limit": 2})["results"]
    except NotFound:
        found = []
    if not found:
        raise ValidationFailed(details={"user": [f"No user with the email, username or id {text[:80]!r}."]})
    return found[0]["id"]


def _change(request, access, name: str, action, success: str, field: str) -> HttpResponse:
    caller = _caller(request, access, Perm.CHANGE_DATA)
    try:
        action(caller)
    except BasaltError as exc:
        if exc.status == 403:
            raise
        # A missing role makes _role_page raise NotFound in turn: the 404 page, not a form error.
        return _role_page(request, access, name, {field: error_messages(exc)}, status=400)
    messages.success(request, success)
    return redirect("console:role", access.project.ref, name)


@project_view
def role_add_user(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    text = request.POST.get("user") or ""

    def action(caller):
        identity_roles.add_users(caller, name, [_resolve_user(caller, text)])

    return _change(request, access, name, action, f"{text.strip()} added to {name}.", "user")


@project_view
def role_remove_user(request: HttpRequest, access: ProjectAccess, name: str, user_id: str) -> HttpResponse:
    return _change(
        request,
        access,
        name,
        lambda caller: identity_roles.remove_user(caller, name, user_id),
        "User removed from the role.",
        "user",
    )


@project_view
def role_add_child(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    child = request.POST.get("role") or ""
    return _change(
        request,
        access,
        name,
        lambda caller: identity_roles.add_roles(caller, name, [child]),
        f"Members of “{child}” now inherit “{name}”.",
        "role",
    )


@project_view
def role_remove_child(request: HttpRequest, access: ProjectAccess, name: str, child: str) -> HttpResponse:
    return _change(
        request,
        access,
        name,
        lambda caller: identity_roles.remove_role(caller, name, child),
        f"“{child}” no longer inherits “{name}”.",
        "role",
    )


@project_view
def role_delete(request: HttpRequest, access: ProjectAccess, name: str) -> HttpResponse:
    caller = _caller(request, access, Perm.CHANGE_DATA)
    if request.POST.get("confirm_name") != name:
        return _role_page(request, access, name, {"confirm_name": ["Type the role's name to confirm."]}, status=400)
    identity_roles.delete_role(caller, name)
    messages.success(request, f"Role “{name}” deleted.")
    return redirect("console:roles", access.project.ref)

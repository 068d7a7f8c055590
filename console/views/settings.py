"""Project settings: name, CORS origins, limits, members and deletion."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError
from basalt.identity.auth_settings import DEFAULTS as AUTH_DEFAULTS
from basalt.projects import invitations, services
from basalt.projects.api.views import accept_url
from console.forms import (
    AUTH_BOOLEANS,
    AuthSettingsForm,
    CorsForm,
    DeleteProjectForm,
    InviteForm,
    LimitsForm,
    MemberForm,
    ProjectNameForm,
    RoleForm,
)
from console.views.common import ProjectAccess, attach_errors, page, project_context, project_view, saved_through


def _settings_page(request: HttpRequest, access: ProjectAccess, status: int = 200, **forms) -> HttpResponse:
    current = services.get_project_settings(request.user, access.project.ref)
    context = project_context(
        access,
        "settings",
        tab="general",
        name_form=forms.get("name_form") or ProjectNameForm(initial={"name": access.project.name}),
        cors_form=forms.get("cors_form")
        or CorsForm(initial={"cors_origins": "\n".join(current.get("cors_origins", []))}),
        limits_form=forms.get("limits_form") or LimitsForm(initial=current.get("limits", {})),
        delete_form=forms.get("delete_form") or DeleteProjectForm(),
        auth_form=forms.get("auth_form")
        or AuthSettingsForm(
            initial={**AUTH_DEFAULTS, **(current.get("auth") or {})}, read_only=not access.can["manage_settings"]
        ),
        auth_booleans=AUTH_BOOLEANS,
        extra_sections={key: value for key, value in current.items() if key not in ("cors_origins", "limits", "auth")},
    )
    return page(request, "console/projects/settings.html", context, status=status)


def _save_settings(request: HttpRequest, access: ProjectAccess, changes: dict) -> None:
    services.change_project_settings(request.user, access.project.ref, changes)


@project_view
def settings_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _settings_page(request, access)


@project_view
def rename(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = ProjectNameForm(request.POST)
    if saved_through(
        form, lambda: services.rename_project(request.user, access.project.ref, form.cleaned_data["name"])
    ):
        messages.success(request, "Project renamed.")
        return redirect("console:settings", access.project.ref)
    return _settings_page(request, access, status=400, name_form=form)


@project_view
def change_cors(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = CorsForm(request.POST)
    if saved_through(form, lambda: _save_settings(request, access, {"cors_origins": form.origins()})):
        messages.success(request, "CORS origins saved.")
        return redirect("console:settings", access.project.ref)
    return _settings_page(request, access, status=400, cors_form=form)


@project_view
def change_limits(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = LimitsForm(request.POST)
    fields = {f"limits.{name}": name for name in form.fields}
    if saved_through(form, lambda: _save_settings(request, access, {"limits": dict(form.cleaned_data)}), fields):
        messages.success(request, "Limits saved.")
        return redirect("console:settings", access.project.ref)
    return _settings_page(request, access, status=400, limits_form=form)


@project_view
def change_auth(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = AuthSettingsForm(request.POST)
    fields = {f"auth.{name}": name for name in form.fields}
    # The whole section in one call: the validator refuses it before anything is stored.
    if saved_through(form, lambda: _save_settings(request, access, {"auth": form.section()}), fields):
        messages.success(request, "Auth settings saved.")
        return redirect("console:settings", access.project.ref)
    return _settings_page(request, access, status=400, auth_form=form)


@project_view
def delete(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = DeleteProjectForm(request.POST)
    form.is_valid()
    try:
        # The typed name is required here even though the API accepts deletion without it.
        services.delete_project(request.user, access.project.ref, form.cleaned_data.get("confirm_name") or "")
    except BasaltError as exc:
        if exc.status == 403:
            raise
        attach_errors(form, exc, {"name": "confirm_name"})
        return _settings_page(request, access, status=400, delete_form=form)
    messages.success(request, f"Project “{access.project.name}” deleted.")
    return redirect("console:projects")


# --- members -----------------------------------------------------------------------------------


def _members_page(
    request: HttpRequest,
    access: ProjectAccess,
    form: MemberForm | None = None,
    status: int = 200,
    invite_form: InviteForm | None = None,
) -> HttpResponse:
    members = services.list_members(request.user, access.project.ref)
    context = project_context(
        access,
        "settings",
        tab="members",
        members=members,
        form=form or MemberForm(),
        invite_form=invite_form or InviteForm(),
        invitations=invitations.list_invitations(request.user, access.project.ref),
        role_choices=RoleForm.base_fields["role"].choices,
    )
    return page(request, "console/projects/members.html", context, status=status)


@project_view
def members(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    if request.method != "POST":
        return _members_page(request, access)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            membership = services.add_member(
                request.user, access.project.ref, form.cleaned_data["email"], form.cleaned_data["role"]
            )
        except BasaltError as exc:
            if exc.status == 403:
                raise
            attach_errors(form, exc)
        else:
            messages.success(request, f"{membership.account.email} added as {membership.role}.")
            return redirect("console:members", access.project.ref)
    return _members_page(request, access, form, 400)


@project_view
def member_role(request: HttpRequest, access: ProjectAccess, member_id: str) -> HttpResponse:
    form = RoleForm(request.POST)
    try:
        role = form.cleaned_data["role"] if form.is_valid() else request.POST.get("role")
        membership = services.change_member_role(request.user, access.project.ref, member_id, role)
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(
            request,
            exc.message
            if not exc.details
            else "; ".join(
                str(msg) for msgs in exc.details.values() for msg in (msgs if isinstance(msgs, list) else [msgs])
            ),
        )
        return redirect("console:members", access.project.ref)
    messages.success(request, f"{membership.account.email} is now {membership.role}.")
    return redirect("console:members", access.project.ref)


@project_view
def member_remove(request: HttpRequest, access: ProjectAccess, member_id: str) -> HttpResponse:
    try:
        services.remove_member(request.user, access.project.ref, member_id)
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
        return redirect("console:members", access.project.ref)
    messages.success(request, "Member removed.")
    if not any(m.account_id == request.user.pk for m in _safe_members(request, access)):
        return redirect("console:projects")
    return redirect("console:members", access.project.ref)


def _safe_members(request: HttpRequest, access: ProjectAccess) -> list:
    try:
        return services.list_members(request.user, access.project.ref)
    except BasaltError:
        return []


# --- invitations -------------------------------------------------------------------------------


@project_view
def invite(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitation = invitations.invite_member(
                request.user,
                access.project.ref,
                form.cleaned_data["email"],
                form.cleaned_data["role"],
                accept_url=accept_url(request),
            )
        except BasaltError as exc:
            if exc.status == 403:
                raise
            attach_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {invitation.email} ({invitation.role}).")
            return redirect("console:members", access.project.ref)
    return _members_page(request, access, status=400, invite_form=form)


@project_view
def invitation_revoke(request: HttpRequest, access: ProjectAccess, invitation_id: str) -> HttpResponse:
    try:
        invitation = invitations.revoke_invitation(request.user, access.project.ref, invitation_id)
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, exc.message)
        return redirect("console:members", access.project.ref)
    messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("console:members", access.project.ref)

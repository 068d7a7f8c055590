"""Project settings: name, CORS origins, limits, members and deletion."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from basalt.core.errors import BasaltError
from basalt.identity.auth_settings import DEFAULTS as AUTH_DEFAULTS
from basalt.projects import invitations, services
from basalt.projects.api.views import accept_url
from basalt.projects.models import Project
from basalt.projects.roles import Perm
from console.forms import (
    AUTH_BOOLEANS,
    AuthSettingsForm,
    CorsForm,
    DeleteProjectForm,
    InviteForm,
    LimitsForm,
    ProjectNameForm,
    RoleForm,
)
from console.mail_notice import delivery_note, mail_folder
from console.preconditions import ConflictNotice, StaleForm, fingerprint, save_if_unchanged, show_current
from console.provider_forms import ProvidersForm
from console.views.common import (
    ProjectAccess,
    attach_errors,
    error_messages,
    page,
    project_context,
    project_view,
    saved_through,
)

# Each settings form replaces one section as a whole; its fingerprint is the form's precondition.
SECTIONS = {
    "name_form": "name",
    "cors_form": "cors_origins",
    "limits_form": "limits",
    "auth_form": "auth",
    "providers_form": "auth",
}
SAVED = {
    "name_form": "Project renamed.",
    "cors_form": "CORS origins saved.",
    "limits_form": "Limits saved.",
    "auth_form": "Auth settings saved.",
    "providers_form": "Sign-in providers saved.",
}
ANCHORS = {
    "name_form": "general",
    "cors_form": "cors",
    "limits_form": "limits",
    "auth_form": "auth",
    "providers_form": "providers",
}


def _section_state(project: Project, current: dict, section: str):
    return project.name if section == "name" else current.get(section)


def _settings_page(
    request: HttpRequest, access: ProjectAccess, status: int = 200, conflicts: dict | None = None, **forms
) -> HttpResponse:
    current = services.get_project_settings(request.user, access.project.ref)
    project = services.access_project(request.user, access.project.ref)
    versions = {key: fingerprint(_section_state(project, current, section)) for key, section in SECTIONS.items()}
    context = project_context(
        access,
        "settings",
        tab="general",
        name_form=forms.get("name_form")
        or ProjectNameForm(initial={"name": project.name, "version": versions["name_form"]}),
        cors_form=forms.get("cors_form")
        or CorsForm(
            initial={"cors_origins": "\n".join(current.get("cors_origins", [])), "version": versions["cors_form"]}
        ),
        limits_form=forms.get("limits_form")
        or LimitsForm(initial={**current.get("limits", {}), "version": versions["limits_form"]}),
        delete_form=forms.get("delete_form") or DeleteProjectForm(),
        auth_form=forms.get("auth_form")
        or AuthSettingsForm(
            initial={**AUTH_DEFAULTS, **(current.get("auth") or {}), "version": versions["auth_form"]},
            read_only=not access.can["manage_settings"],
        ),
        auth_booleans=AUTH_BOOLEANS,
        providers_form=forms.get("providers_form")
        or ProvidersForm(
            initial={**ProvidersForm.initial_from(current.get("auth") or {}), "version": versions["providers_form"]},
            read_only=not access.can["manage_settings"],
            secrets_set=_secrets_set(current),
        ),
        conflicts=conflicts or {},
        extra_sections={key: value for key, value in current.items() if key not in ("cors_origins", "limits", "auth")},
    )
    return page(request, "console/projects/settings.html", context, status=status)


def _save_section(request: HttpRequest, access: ProjectAccess, key: str, form, save, field_map=None) -> HttpResponse:
    """Save one settings form unless its section changed since the form was rendered."""
    section = SECTIONS[key]
    here = reverse("console:settings", args=[access.project.ref]) + f"#{ANCHORS[key]}"

    def read_locked():
        project = services.access_project(request.user, access.project.ref, Perm.MANAGE_SETTINGS, lock=True)
        current = services.get_project_settings(request.user, access.project.ref)
        return _section_state(project, current, section)

    def action():
        save_if_unchanged(read_locked, form.cleaned_data.get("version"), save)

    try:
        if saved_through(form, action, field_map):
            messages.success(request, SAVED[key])
            return redirect(here)
    except StaleForm as stale:
        form.refresh_version(fingerprint(stale.current))
        notice = ConflictNotice(
            "These settings were changed (in another tab or by another member) after you opened this page.",
            show_current(stale.current),
            here,
        )
        return _settings_page(request, access, status=409, conflicts={key: notice}, **{key: form})
    return _settings_page(request, access, status=400, **{key: form})


def _secrets_set(current: dict) -> dict:
    providers = (current.get("auth") or {}).get("providers") or {}
    return {
        name: bool(config.get("client_secret_set")) for name, config in providers.items() if isinstance(config, dict)
    }


@project_view
def change_providers(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = ProvidersForm(request.POST)
    return _save_section(
        request,
        access,
        "providers_form",
        form,
        lambda: _change(request, access, {"auth": form.section()}),
        form.field_map(),
    )


@project_view
def settings_page(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return _settings_page(request, access)


@project_view
def rename(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = ProjectNameForm(request.POST)
    return _save_section(
        request,
        access,
        "name_form",
        form,
        lambda: services.rename_project(request.user, access.project.ref, form.cleaned_data["name"]),
    )


def _change(request: HttpRequest, access: ProjectAccess, changes: dict) -> None:
    services.change_project_settings(request.user, access.project.ref, changes)


@project_view
def change_cors(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = CorsForm(request.POST)
    return _save_section(
        request, access, "cors_form", form, lambda: _change(request, access, {"cors_origins": form.origins()})
    )


@project_view
def change_limits(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = LimitsForm(request.POST)
    fields = {f"limits.{name}": name for name in form.fields}
    return _save_section(
        request, access, "limits_form", form, lambda: _change(request, access, {"limits": form.values()}), fields
    )


@project_view
def change_auth(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    form = AuthSettingsForm(request.POST)
    fields = {f"auth.{name}": name for name in form.fields}
    # The whole section in one call: the validator refuses it before anything is stored.
    return _save_section(
        request, access, "auth_form", form, lambda: _change(request, access, {"auth": form.section()}), fields
    )


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
    request: HttpRequest, access: ProjectAccess, status: int = 200, invite_form: InviteForm | None = None
) -> HttpResponse:
    members = services.list_members(request.user, access.project.ref)
    context = project_context(
        access,
        "settings",
        tab="members",
        members=members,
        invite_form=invite_form or InviteForm(),
        invitations=invitations.list_invitations(request.user, access.project.ref),
        mail_folder=mail_folder(),
        role_choices=RoleForm.base_fields["role"].choices,
    )
    return page(request, "console/projects/members.html", context, status=status)


@project_view
def members(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    if request.method != "POST":
        return _members_page(request, access)
    # Adding a member is inviting them (the former "add member" form posted here).
    return _invite(request, access)


@project_view
def member_role(request: HttpRequest, access: ProjectAccess, member_id: str) -> HttpResponse:
    form = RoleForm(request.POST)
    try:
        role = form.cleaned_data["role"] if form.is_valid() else request.POST.get("role")
        membership = services.change_member_role(request.user, access.project.ref, member_id, role)
    except BasaltError as exc:
        if exc.status in (403, 404):
            raise
        messages.error(request, "; ".join(error_messages(exc)))
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
    return _invite(request, access)


def _invite(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
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
            messages.success(request, f"Invitation sent to {invitation.email} ({invitation.role}).{delivery_note()}")
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

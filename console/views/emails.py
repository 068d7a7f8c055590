"""Email templates of the project's end-user mails: edit, preview with sample values, send a test."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError
from basalt.identity import emails
from basalt.identity.auth_settings import EMAIL_KINDS, auth_settings
from basalt.logs.mail import send_tagged
from basalt.projects import services
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console.mail_notice import delivery_note, mail_folder
from console.views.common import ProjectAccess, error_messages, page, project_context, project_view

LABELS = {
    "verify": "Email verification",
    "reset": "Password reset",
    "registered": "Someone signed up with this address",
    "mfa_reset": "Two-step sign-in turned off",
}
PLACEHOLDERS = ("project_name", "email", "link", "token", "expires_hours")


def _sample(project, email: str) -> dict[str, str]:
    return {
        "project_name": project.name,
        "email": email,
        "token": "sample-token",
        "link": emails.link_for(project, "verify", "sample-token"),
        "expires_hours": "24",
    }


def _forms(project, posted_kind: str = "", posted: dict | None = None) -> list[dict]:
    overrides = auth_settings(project).email_templates
    out = []
    for kind in EMAIL_KINDS:
        own = overrides.get(kind) or {}
        subject = own.get("subject") or emails._default(kind, "subject")
        body = own.get("body") or emails._default(kind, "body")
        if kind == posted_kind and posted is not None:
            subject, body = posted["subject"], posted["body"]
        out.append(
            {"kind": kind, "label": LABELS.get(kind, kind), "subject": subject, "body": body, "custom": bool(own)}
        )
    return out


@project_view
def email_templates(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    project = access_project(request.user, access.project.ref, Perm.VIEW)
    context = project_context(
        access, "emails", forms=_forms(project), placeholders=PLACEHOLDERS, mail_folder=mail_folder()
    )
    return page(request, "console/emails/templates.html", context)


@project_view
def email_template_save(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """Preview (no change), save (through the project settings service) or send a test mail to yourself."""
    project = access_project(request.user, access.project.ref, Perm.MANAGE_SETTINGS)
    kind = request.POST.get("kind") or ""
    if kind not in EMAIL_KINDS:
        messages.error(request, "Unknown email.")
        return redirect("console:emails", project.ref)
    posted = {"subject": request.POST.get("subject") or "", "body": request.POST.get("body") or ""}
    subject = " ".join(emails.substitute(posted["subject"], _sample(project, request.user.email)).split())[:200]
    body = emails.substitute(posted["body"], _sample(project, request.user.email))
    action = request.POST.get("action")
    preview = error = ""
    status = 200
    if action == "save":
        templates = dict(auth_settings(project).email_templates)
        templates[kind] = {k: v for k, v in posted.items() if v.strip()}
        try:
            services.change_project_settings(request.user, project.ref, {"auth": {"email_templates": templates}})
        except BasaltError as exc:
            if exc.status == 403:
                raise
            error, status = " ".join(error_messages(exc)), 400
        else:
            messages.success(request, f"{LABELS[kind]} template saved.")
            return redirect("console:emails", project.ref)
    elif action == "test":
        send_tagged(f"[test] {subject}", body, None, [request.user.email], project.ref, "test")
        messages.success(request, f"Test mail sent to {request.user.email}.{delivery_note()}")
        return redirect("console:emails", project.ref)
    else:
        preview = kind
    context = project_context(
        access,
        "emails",
        forms=_forms(project, kind, posted),
        placeholders=PLACEHOLDERS,
        preview_kind=preview,
        preview_subject=subject,
        preview_body=body,
        error_kind=kind if error else "",
        error=error,
        mail_folder=mail_folder(),
    )
    return page(request, "console/emails/templates.html", context, status=status)

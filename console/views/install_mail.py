"""Install mail server (SMTP) settings for owners of the installation (superusers), with a test mail."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.core.errors import BasaltError
from basalt.logs import mailserver, outbox
from console.mail_notice import OUTBOX_BACKEND, mail_folder
from console.views.common import error_page, page, signed_in


def _context(request, errors=None, posted=None) -> dict:
    row = mailserver.current()
    from basalt.logs.models import MailServer

    stored = MailServer.objects.first()
    return {
        "section": "install_mail",
        "server": stored,
        "configured": row is not None,
        "has_password": bool(stored and stored.password_sealed),
        "env_configured": settings.EMAIL_BACKEND != OUTBOX_BACKEND,
        "errors": errors or {},
        "posted": posted,
    }


@signed_in
def install_mail(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        # Not an install owner: a visit lands on the project list; a change is refused as unknown.
        if request.method != "POST":
            return redirect("console:projects")
        return error_page(request, 404, "Not found", "This page does not exist.")
    if request.method != "POST":
        return page(request, "console/install/mail.html", _context(request))
    if request.POST.get("action") == "test":
        from django.core.mail import EmailMessage

        try:
            # Through the configured backend: the console's SMTP server, the environment's, or the Outbox.
            EmailMessage(
                "Basalt test mail", "Your Basalt installation can send mail.", None, [request.user.email]
            ).send()
        except OSError as exc:  # refused, unreachable, TLS or auth failure: say so, never a 500
            messages.error(request, f"The mail server did not take the test mail: {exc}")
            return redirect("console:install_mail")
        where = "sent" if mailserver.current() or settings.EMAIL_BACKEND != OUTBOX_BACKEND else "recorded (no server)"
        messages.success(request, f"Test mail to {request.user.email} {where}.")
        return redirect("console:install_mail")
    try:
        mailserver.save(request.user, request.POST)
    except BasaltError as exc:
        if exc.status == 403:
            return error_page(request, 404, "Not found", "This page does not exist.")
        details = exc.details if isinstance(exc.details, dict) else {}
        return page(request, "console/install/mail.html", _context(request, details, request.POST), status=400)
    messages.success(request, "Mail server saved.")
    return redirect("console:install_mail")


@signed_in
def install_outbox(request: HttpRequest) -> HttpResponse:
    """Mails to console accounts (no project), for owners of the installation."""
    try:
        mails = outbox.install_mails(request.user)
    except BasaltError:
        return redirect("console:projects")  # as the mail server page: a visit lands on the project list
    return page(
        request,
        "console/install/outbox.html",
        {"section": "install_outbox", "mails": mails, "mail_folder": mail_folder()},
    )

"""The console account page (authenticator app) and the sign-in code step.

Services: `basalt.identity.console_mfa`. The sign-in form's second step keeps only the account
id and a deadline in the session until the code is right; nothing is signed in before."""

from __future__ import annotations

import time

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from basalt.accounts.models import Account
from basalt.core.errors import BasaltError, RateLimited
from basalt.identity import console_mfa
from console.views.common import page, signed_in

PENDING = "console_mfa_pending"
PENDING_SECONDS = 300


def _account_page(request: HttpRequest, enrolment: dict | None = None, error: str = "", status: int = 200):
    context = {
        "section": "account",
        "has_totp": console_mfa.has_totp(request.user),
        "enrolment": enrolment,
        "error": error,
        "requiring": console_mfa.projects_requiring(request.user),
    }
    return page(request, "console/auth/account.html", context, status=status)


@signed_in
def account(request: HttpRequest) -> HttpResponse:
    return _account_page(request)


@signed_in
def totp_start(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("console:account")
    try:
        enrolment = console_mfa.enroll(request.user)
    except BasaltError as exc:
        return _account_page(request, error=exc.message, status=exc.status)
    return _account_page(request, enrolment=enrolment)


def _code_action(request: HttpRequest, service, done: str) -> HttpResponse:
    """POST a code to a TOTP service (confirm, disable): back to the account page either way."""
    if request.method != "POST":
        return redirect("console:account")
    try:
        service(request.user, request.POST.get("code", ""))
    except BasaltError as exc:
        message = exc.details["code"][0] if exc.details and "code" in exc.details else exc.message
        return _account_page(request, error=message, status=exc.status)
    messages.success(request, done)
    return redirect("console:account")


@signed_in
def totp_confirm(request: HttpRequest) -> HttpResponse:
    return _code_action(request, console_mfa.confirm, "Authenticator app turned on: sign-ins now ask for its code.")


@signed_in
def totp_disable(request: HttpRequest) -> HttpResponse:
    return _code_action(request, console_mfa.disable, "Authenticator app turned off.")


def start_code_step(request: HttpRequest, account: Account, next_url: str) -> HttpResponse:
    """Called by the sign-in form once the password is right, for accounts with TOTP."""
    request.session[PENDING] = {"id": account.pk, "next": next_url, "until": time.time() + PENDING_SECONDS}
    return redirect("console:signin_code")


def sign_in_code(request: HttpRequest) -> HttpResponse:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or pending.get("until", 0) < time.time():
        request.session.pop(PENDING, None)
        return redirect("console:signin")
    context = {"error": ""}
    if request.method != "POST":
        return page(request, "console/auth/signin_code.html", context)
    account = Account.objects.filter(pk=pending["id"], is_active=True).first()
    if account is None:
        request.session.pop(PENDING, None)
        return redirect("console:signin")
    try:
        console_mfa.require_code(account, request.POST.get("code") or "-")
    except RateLimited as exc:
        context["error"] = exc.message
        return page(request, "console/auth/signin_code.html", context, status=429)
    except BasaltError:
        context["error"] = "That code is not valid. Enter the current code from your authenticator app."
        return page(request, "console/auth/signin_code.html", context, status=400)
    request.session.pop(PENDING, None)
    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(pending.get("next") or "console:projects")


def member_mfa(request: HttpRequest, ref: str) -> HttpResponse:
    """Owners: require (or stop requiring) an authenticator app of every member."""
    if not request.user.is_authenticated or request.method != "POST":
        return redirect("console:signin")
    required = request.POST.get("required") == "true"
    try:
        console_mfa.set_member_mfa_required(request.user, ref, required)
    except BasaltError as exc:
        messages.error(request, exc.message)
        return redirect("console:settings", ref)
    messages.success(
        request, "Members must now use an authenticator app." if required else "Authenticator apps are optional again."
    )
    return redirect("console:settings", ref)

"""Console sign-up, sign-in and sign-out with Django sessions."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib.auth import login, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from basalt.accounts import links, sessions, signin
from basalt.accounts.serializers import AccountCreateSerializer
from basalt.core.errors import BasaltError, RateLimited
from basalt.projects import invitations
from basalt.projects.models import Invitation
from console.forms import SignInForm, SignUpForm
from console.mail_notice import mail_folder
from console.views.common import invalid, page


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        if target.startswith("/console/"):
            return target
    return reverse("console:projects")


def index(request: HttpRequest) -> HttpResponse:
    return redirect("console:projects" if request.user.is_authenticated else "console:signin")


def sign_in(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_next_url(request))
    form = SignInForm(request.POST or None)
    context = {
        "form": form,
        "next": request.POST.get("next") or request.GET.get("next", ""),
        "signup_open": settings.CONSOLE_SIGNUP_OPEN,
    }
    if request.method != "POST":
        return page(request, "console/auth/signin.html", context)
    if not form.is_valid():
        return invalid(request, "console/auth/signin.html", context)
    try:
        # The API's sign-in: the same failure lock (per address and account, per address).
        account = signin.authenticate(request, form.cleaned_data["email"], form.cleaned_data["password"])
    except RateLimited as exc:
        form.add_error(None, exc.message)
        response = page(request, "console/auth/signin.html", context, status=429)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    except BasaltError as exc:
        # One message for unknown email and wrong password: no account enumeration.
        form.add_error(None, exc.message)
        return invalid(request, "console/auth/signin.html", context)
    from basalt.identity.console_mfa import has_totp
    from console.views.account_security import start_code_step

    if has_totp(account):  # the password was right; the authenticator code is the second step
        return start_code_step(request, account, _next_url(request))
    login(request, account)
    return redirect(_next_url(request))


def _invitation_for(next_url: str) -> Invitation | None:
    """The live invitation a sign-up came from, if `next` is an invitation link."""
    match = re.fullmatch(r"/console/invite/([A-Za-z0-9_-]{1,100})/?", next_url)
    if match is None:
        return None
    try:
        return invitations.peek_invitation(match.group(1))
    except BasaltError:
        return None


def sign_up(request: HttpRequest) -> HttpResponse:
    # `next` brings an invitee back to the invitation they followed.
    next_url = request.POST.get("next") or request.GET.get("next", "")
    # With open sign-up closed, a live invitation still lets its own address create an account.
    invitation = None if settings.CONSOLE_SIGNUP_OPEN else _invitation_for(next_url)
    if not settings.CONSOLE_SIGNUP_OPEN and invitation is None:
        return page(request, "console/auth/signup_closed.html", status=403)
    form = SignUpForm(request.POST or None, initial={"email": request.GET.get("email", "")[:254]})
    context = {"form": form, "next": next_url}
    if request.method != "POST":
        return page(request, "console/auth/signup.html", context)
    if not form.is_valid():
        return invalid(request, "console/auth/signup.html", context)
    if invitation is not None and form.cleaned_data["email"].lower() != invitation.email.lower():
        form.add_error("email", f"Sign-up is by invitation: use {invitation.email}, the address it was sent to.")
        return invalid(request, "console/auth/signup.html", context)
    # The management API's own sign-up serializer: same password rules, same uniqueness check.
    serializer = AccountCreateSerializer(
        data={"email": form.cleaned_data["email"], "password": form.cleaned_data["password"]}
    )
    if not serializer.is_valid():
        for name, messages in serializer.errors.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, str(message))
        return invalid(request, "console/auth/signup.html", context)
    account = serializer.save()
    if not account.is_active:
        # The console's sign-up mails the link too, or the account waits for an administrator.
        links.send_activation(request, account)
        return page(request, "console/auth/signup_confirm.html", {"email": account.email, "mail_folder": mail_folder()})
    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
    return redirect(_next_url(request))


def sign_out(request: HttpRequest) -> HttpResponse:
    if request.POST.get("everywhere") and request.user.is_authenticated:
        # Every web session and API token of the account, this one included.
        sessions.revoke_all(request.user, reason="signed_out_everywhere")
    logout(request)
    return redirect("console:signin")

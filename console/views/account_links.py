"""The console pages emailed links open: forgot password, choose a new password, activate."""

from __future__ import annotations

from types import SimpleNamespace

from django.http import HttpRequest, HttpResponse
from rest_framework.throttling import ScopedRateThrottle

from basalt.accounts import links
from console.forms import ForgotPasswordForm, NewPasswordForm
from console.mail_notice import mail_folder
from console.views.common import error_page, invalid, page

FORGOT = "console/auth/password_forgot.html"
RESET = "console/auth/password_reset.html"
NOTICE = "console/auth/notice.html"
DEAD_TITLE = "Link not valid"


def _notice(request: HttpRequest, title: str, message: str, **extra) -> HttpResponse:
    return page(request, NOTICE, {"title": title, "message": message, **extra})


def _mail_throttled(request: HttpRequest) -> bool:
    # The API's reset_password bucket (per client address): one budget for mail, whichever face asks.
    return not ScopedRateThrottle().allow_request(request, SimpleNamespace(throttle_scope="console_signup"))


def password_forgot(request: HttpRequest) -> HttpResponse:
    form = ForgotPasswordForm(request.POST or None)
    context = {"form": form}
    if request.method != "POST":
        return page(request, FORGOT, context)
    if not form.is_valid():
        return invalid(request, FORGOT, context)
    if _mail_throttled(request):
        form.add_error(None, "Too many reset requests from this address; try again later.")
        return page(request, FORGOT, context, status=429)
    links.send_password_reset(request, form.cleaned_data["email"])
    # The same answer whether or not an account has this address: no account enumeration.
    return _notice(
        request,
        "Check your email",
        "If an account uses that address, a link to choose a new password is on its way.",
        mail_folder=mail_folder(),
    )


def password_reset(request: HttpRequest, uid: str, link_token: str) -> HttpResponse:
    if not links.link_is_live(uid, link_token):
        return error_page(request, 400, DEAD_TITLE, links.DEAD_LINK)
    form = NewPasswordForm(request.POST or None)
    context = {"form": form, "uid": uid, "link_token": link_token}
    if request.method != "POST":
        return page(request, RESET, context)
    if not form.is_valid():
        return invalid(request, RESET, context)
    try:
        links.reset_password(request, uid, link_token, form.cleaned_data["new_password"])
    except links.LinkRefused as refused:
        if refused.dead:
            return error_page(request, 400, DEAD_TITLE, links.DEAD_LINK)
        for name, messages in refused.errors.items():
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
        return invalid(request, RESET, context)
    return _notice(request, "Password changed", "Your new password is set and every session was signed out. Sign in.")


def activate(request: HttpRequest, uid: str, link_token: str) -> HttpResponse:
    try:
        links.activate(request, uid, link_token)
    except links.AlreadyActive:
        return _notice(request, "Account already active", "This account is already active: sign in.")
    except links.LinkRefused:
        return error_page(request, 400, DEAD_TITLE, links.DEAD_LINK)
    return _notice(request, "Account activated", "Your email address is confirmed and your account is active. Sign in.")

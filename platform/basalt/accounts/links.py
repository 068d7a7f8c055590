"""Emailed console account links (password reset, activation) confirmed from the console's pages.

These run the serializers, token generator and emails of djoser's API endpoints, and save the
account the way they do, so a link means the same thing (and a reset ends every session through
`Account.save`) whether it is confirmed by JSON or by a form.
"""

from __future__ import annotations

from types import SimpleNamespace

from django.http import HttpRequest
from django.utils import timezone
from djoser import signals
from djoser import utils as djoser_utils
from djoser.compat import get_user_email
from djoser.conf import settings as djoser_settings
from djoser.serializers import ActivationSerializer, SendEmailResetSerializer
from djoser.views import UserViewSet
from rest_framework import exceptions
from rest_framework.serializers import ValidationError

from basalt.accounts.models import Account
from basalt.accounts.serializers import AccountPasswordResetConfirmSerializer

DEAD_LINK = "This link is invalid or has expired. Ask for a new one."
LINK_FIELDS = ("uid", "token")


class LinkRefused(Exception):
    """The form's answer: `dead` when the link itself is no good, else per-field messages."""

    def __init__(self, *, dead: bool = False, errors: dict[str, list[str]] | None = None):
        super().__init__(DEAD_LINK if dead else "invalid")
        self.dead = dead
        self.errors = errors or {}


class AlreadyActive(Exception):
    """An activation link for an account that is already active (the link was used)."""


def _context(request: HttpRequest) -> dict:
    # djoser's serializers read the token generator from the view that runs them.
    return {"request": request, "view": SimpleNamespace(token_generator=UserViewSet.token_generator)}


def _refused(error: ValidationError) -> LinkRefused:
    detail = error.detail if isinstance(error.detail, dict) else {}
    if any(name in detail for name in LINK_FIELDS):
        return LinkRefused(dead=True)
    return LinkRefused(errors={str(k): [str(m) for m in v] for k, v in detail.items()})


def send_password_reset(request: HttpRequest, email: str) -> None:
    """Mail a reset link if an active account has this address; silent either way (no enumeration)."""
    serializer = SendEmailResetSerializer(data={"email": email}, context=_context(request))
    serializer.is_valid(raise_exception=True)
    account = serializer.get_user()
    if account:
        djoser_settings.EMAIL.password_reset(request, {"user": account}).send([get_user_email(account)])


def send_activation(request: HttpRequest, account: Account) -> None:
    """Mail the activation link of a new inactive account (djoser's sign-up does the same)."""
    djoser_settings.EMAIL.activation(request, {"user": account}).send([get_user_email(account)])


def link_is_live(uid: str, token: str) -> bool:
    """Whether a reset link still names an account and a token it accepts (before showing its form)."""
    try:
        account = Account.objects.get(pk=djoser_utils.decode_uid(uid))
    except (Account.DoesNotExist, ValueError, TypeError, OverflowError):
        return False
    return UserViewSet.token_generator.check_token(account, token)


def reset_password(request: HttpRequest, uid: str, token: str, new_password: str) -> Account:
    """Set the password a reset link allows; saving it ends every console session of the account."""
    serializer = AccountPasswordResetConfirmSerializer(
        data={"uid": uid, "token": token, "new_password": new_password}, context=_context(request)
    )
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as error:
        raise _refused(error) from None
    account = serializer.user
    account.set_password(serializer.validated_data["new_password"])
    # The link is single-use: its token hashes the password and last_login, both change here.
    account.last_login = timezone.now()
    account.save()
    if djoser_settings.PASSWORD_CHANGED_EMAIL_CONFIRMATION:
        djoser_settings.EMAIL.password_changed_confirmation(request, {"user": account}).send([get_user_email(account)])
    return account


def activate(request: HttpRequest, uid: str, token: str, *, sender: type | None = None) -> Account:
    """Activate the account an activation link names; a used link (account active) raises `AlreadyActive`."""
    serializer = ActivationSerializer(data={"uid": uid, "token": token}, context=_context(request))
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as error:
        raise _refused(error) from None
    except exceptions.PermissionDenied:
        raise AlreadyActive() from None
    account = serializer.user
    account.is_active = True
    account.save()
    signals.user_activated.send(sender=sender or activate, user=account, request=request)
    if djoser_settings.SEND_CONFIRMATION_EMAIL:
        djoser_settings.EMAIL.confirmation(request, {"user": account}).send([get_user_email(account)])
    return account

"""Email verification and password reset with hashed, expiring, single-use tokens."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import ValidationFailed, body_object
from basalt.identity import builtin, emails, sessions, throttle
from basalt.identity.auth_settings import auth_settings
from basalt.identity.models import EndUser, OneTimeToken
from basalt.identity.passwords import check_policy, hash_password
from basalt.identity.tokens import hash_token, new_one_time_token
from basalt.identity.userdata import clean_email
from basalt.projects.models import Project

LIFETIME_HOURS = {OneTimeToken.VERIFY: 24, OneTimeToken.RESET: 1}
MAX_TOKEN_LENGTH = 128
_BAD_TOKEN = {"token": ["This code is invalid, expired or already used."]}


def issue_email_token(user: EndUser, purpose: str) -> None:
    """Store a new token's hash and mail the raw token after commit (rate-limited per address)."""
    if not user.email or not throttle.allow_reset_email(user.project_id, f"{purpose}:{user.email}"):
        return
    raw = new_one_time_token()
    hours = LIFETIME_HOURS[purpose]
    OneTimeToken.objects.create(
        token_hash=hash_token(raw),
        project_id=user.project_id,
        user=user,
        purpose=purpose,
        email=user.email,
        expires_at=timezone.now() + timedelta(hours=hours),
    )
    emails.send_after_commit(user.project, purpose, user.email, raw, hours)


def warn_registered(project: Project, email: str) -> None:
    """Someone signed up with an address that has an account: its owner is told, the caller is not."""
    if throttle.allow_reset_email(project.pk, f"registered:{email}"):
        emails.send_notice_after_commit(project, "registered", email)


def _pad(started: float) -> None:
    """Answer no faster than a floor, so known and unknown addresses take the same time."""
    floor = getattr(settings, "IDENTITY_EMAIL_REQUEST_MIN_SECONDS", 0.08)
    remaining = floor - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


def _lookup_by_email(project: Project, body: Any) -> EndUser | None:
    body_object(body)
    email = clean_email(body.get("email"))
    return EndUser.objects.filter(project=project, email=email, disabled=False).select_related("project").first()


def request_reset(project: Project, body: Any) -> None:
    """Always the same answer (202) whether or not the address belongs to someone."""
    started = time.monotonic()
    user = _lookup_by_email(project, body)
    if user is not None:
        with transaction.atomic():
            issue_email_token(user, OneTimeToken.RESET)
    _pad(started)


def request_verification(caller: Caller, body: Any) -> None:
    """Send a verification code to the signed-in user's address, or to a given one (always 202)."""
    started = time.monotonic()
    if caller.user_id and not (isinstance(body, dict) and body.get("email")):
        user = EndUser.objects.select_related("project").filter(project=caller.project, pk=caller.user_id).first()
    else:
        user = _lookup_by_email(caller.project, body)
    if user is not None and user.email and not user.email_verified:
        with transaction.atomic():
            issue_email_token(user, OneTimeToken.VERIFY)
    _pad(started)


def _redeem(project: Project, raw: Any, purpose: str) -> OneTimeToken:
    """Mark the token used with one conditional UPDATE: of many concurrent tries exactly one wins."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN_LENGTH:
        raise ValidationFailed(details=_BAD_TOKEN)
    digest = hash_token(raw)
    won = OneTimeToken.objects.filter(
        token_hash=digest, project=project, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(used_at=timezone.now())
    if won != 1:
        raise ValidationFailed(details=_BAD_TOKEN)
    return OneTimeToken.objects.select_related("user").get(token_hash=digest)


@transaction.atomic
def confirm_verification(project: Project, body: Any) -> dict[str, Any]:
    token = _redeem(project, body.get("token") if isinstance(body, dict) else None, OneTimeToken.VERIFY)
    # The code proves the address it was sent to; if the user changed email since, it proves nothing.
    updated = EndUser.objects.filter(pk=token.user_id, email=token.email).update(
        email_verified=True, updated_at=timezone.now()
    )
    if updated != 1:
        raise ValidationFailed(details=_BAD_TOKEN)
    builtin.sync_user(EndUser.objects.select_related("project").get(pk=token.user_id))
    return {"email_verified": True}


def confirm_reset(project: Project, body: Any) -> None:
    body_object(body)
    # Check the new password first so a weak one does not burn the code.
    password = check_policy(body.get("password"), auth_settings(project))
    encoded = hash_password(password)
    with transaction.atomic():
        token = _redeem(project, body.get("token"), OneTimeToken.RESET)
        user = EndUser.objects.select_for_update().get(pk=token.user_id)
        if user.email != token.email or user.disabled:
            raise ValidationFailed(details=_BAD_TOKEN)
        user.password = encoded
        # Receiving the code proves control of the address, as a verification code would.
        user.email_verified = True
        user.updated_at = timezone.now()
        user.save(update_fields=["password", "email_verified", "updated_at"])
        builtin.sync_user(user)
        OneTimeToken.objects.filter(user=user, purpose=OneTimeToken.RESET, used_at__isnull=True).update(
            used_at=timezone.now()
        )
        sessions.revoke_all(user, reason="password_reset")

"""Authenticator apps (TOTP) for console accounts, and projects whose owners require them.

- An account turns TOTP on from its console account page (secret, otpauth URI and a QR code as
  an SVG data URI), confirming with a first code; turning it off needs a current code.
- With TOTP on, every sign-in asks for a code: the console's sign-in form has a second step and
  the management API's `jwt/create` takes `otp` (missing: `401 mfa_required`; wrong:
  `401 invalid_credentials`). Codes are single use in their window (shared `mfa.accept_totp`),
  and wrong codes are throttled per account.
- A project's owner may require TOTP of every member (`settings.console.require_member_mfa`,
  owner only, and only once the owner has it): members without it get
  `403 mfa_enrollment_required` from every page and API call of that project until they set it up.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from basalt.core.errors import BasaltError, Conflict, InvalidCredentials, PermissionDenied, ValidationFailed
from basalt.identity import mfa, throttle
from basalt.identity.models import AccountTotp
from basalt.projects.models import Project

ISSUER = "Basalt console"


class ConsoleMfaRequired(BasaltError):
    status = 401
    code = "mfa_required"
    default_message = "This account uses an authenticator app: send its current code as 'otp'."


def has_totp(account) -> bool:
    return AccountTotp.objects.filter(account=account, confirmed_at__isnull=False).exists()


def qr_data_uri(text: str) -> str:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="svg", scale=4, border=2)
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def enroll(account) -> dict[str, str]:
    if has_totp(account):
        raise Conflict("An authenticator app is already set up for this account.")
    secret, encrypted = mfa.new_secret()
    AccountTotp.objects.update_or_create(
        account=account, defaults={"secret_encrypted": encrypted, "confirmed_at": None, "last_step": 0}
    )
    uri = mfa.otpauth_uri(secret, account.email, ISSUER)
    return {"secret": secret, "otpauth_uri": uri, "qr": qr_data_uri(uri)}


def _throttle(account) -> None:
    limit = throttle.Limit(getattr(settings, "IDENTITY_MFA_FAILURES_PER_USER", 20), 900)
    throttle.hit("console-mfa", 0, str(account.pk), limit, "Too many wrong codes; wait 15 minutes.")


def _check(account, code: Any, *, confirmed: bool) -> bool:
    row = AccountTotp.objects.filter(account=account, confirmed_at__isnull=not confirmed).first()
    if row is None:
        return False
    _throttle(account)
    return mfa.accept_totp(row, mfa.clean_code(code))


def confirm(account, code: Any) -> None:
    if not _check(account, code, confirmed=False):
        raise ValidationFailed(details={"code": ["This code is not valid; check the device's clock and try again."]})
    AccountTotp.objects.filter(account=account).update(confirmed_at=timezone.now())


def disable(account, code: Any) -> None:
    if not _check(account, code, confirmed=True):
        raise ValidationFailed(details={"code": ["Enter a current code from your authenticator app."]})
    if projects_requiring(account):
        raise PermissionDenied("A project you belong to requires an authenticator app.")
    AccountTotp.objects.filter(account=account).delete()


def require_code(account, code: Any) -> None:
    """At sign-in: nothing for accounts without TOTP; else a valid, unused current code."""
    if not has_totp(account):
        return
    if code in (None, ""):
        raise ConsoleMfaRequired()
    if not isinstance(code, str) or not _check(account, code, confirmed=True):
        raise InvalidCredentials("The authenticator code is not valid.")


# --- projects that require it ----------------------------------------------------------------


def member_mfa_required(project: Project) -> bool:
    section = (project.settings or {}).get("console")
    return isinstance(section, dict) and section.get("require_member_mfa") is True


def projects_requiring(account) -> list[str]:
    from basalt.projects.models import Membership

    memberships = Membership.objects.filter(account=account).select_related("project")
    return [m.project.ref for m in memberships if member_mfa_required(m.project)]


@transaction.atomic
def set_member_mfa_required(account, ref: str, required: bool) -> None:
    from basalt.projects.roles import Perm
    from basalt.projects.services import access_project

    project = access_project(account, ref, Perm.TRANSFER_PROJECT, lock=True)  # owners only
    if required and not has_totp(account):
        raise PermissionDenied("Set up an authenticator app on your own account first.")
    stored = dict(project.settings or {})
    stored["console"] = {**(stored.get("console") or {}), "require_member_mfa": bool(required)}
    Project.objects.filter(pk=project.pk).update(settings=stored)


def enforce(account, project: Project) -> None:
    """`projects.services.access_project` hook: members without TOTP are kept out."""
    if member_mfa_required(project) and not has_totp(account):
        raise PermissionDenied(
            "This project's owner requires an authenticator app: set one up on your account page.",
            code="mfa_enrollment_required",
        )

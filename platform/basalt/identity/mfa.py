"""Second factors (SECURITY.md T21): TOTP with recovery codes, the mfa_token challenge, resets.

- Enrolment: `enroll` stores a fresh secret (encrypted) unconfirmed and returns it with its
  `otpauth://` URI; `confirm` with a valid code turns it on and returns 10 recovery codes, shown
  this once and stored as SHA-256.
- Sign-in (`gate`): a user with a factor, or any user of a project with `require_mfa`, gets
  `401 mfa_required` with an `mfa_token` (5 minutes, single use) instead of tokens; every way in
  (password, provider, browser exchange, passkey, after a password reset) goes through `gate`.
  Users of a `require_mfa` project without a factor enrol with that `mfa_token`.
- `verify`: a TOTP code of a step at or before the last accepted one is refused (no replay in the
  window); a recovery code works once; wrong answers count per challenge (the 5th kills it:
  `429` long before 10) and per user (`IDENTITY_MFA_FAILURES_PER_USER`, default 20 per 15 min).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

import pyotp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from basalt.core.errors import BasaltError, InvalidCredentials, InvalidToken, RateLimited, ValidationFailed, body_object
from basalt.identity import challenges, emails, sessions, throttle
from basalt.identity.auth_settings import auth_settings
from basalt.identity.keys import decrypt_secret, encrypt_secret
from basalt.identity.models import AuthChallenge, EndUser, MfaFactor, Passkey, RecoveryCode
from basalt.projects.models import Project

SECRET_PURPOSE = "totp-secret"
MFA_TOKEN_SECONDS = 300
ATTEMPTS_PER_CHALLENGE = 5
RECOVERY_CODES = 10
STEP = 30
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


class MfaRequired(BasaltError):
    status = 401
    code = "mfa_required"
    default_message = "A second factor is required: finish with POST /api/v1/auth/mfa/verify."


def methods(user: EndUser) -> list[str]:
    found = []
    if MfaFactor.objects.filter(user=user, kind=MfaFactor.TOTP, confirmed_at__isnull=False).exists():
        found.append("totp")
        if RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
            found.append("recovery_code")
    if Passkey.objects.filter(user=user).exists():
        found.append("passkey")
    return found


def gate(user: EndUser, *, user_agent: str = "", ip: str = "", skip_factor: str | None = None) -> sessions.TokenPair:
    """Open a session, or answer 401 mfa_required when a second factor is due.

    `skip_factor="passkey"`: the user just signed in with a passkey, which is already two factors
    (possession + the authenticator's user verification)."""
    have = methods(user)
    # A passkey alone does not turn on a second step for passwords; it can serve as one when due.
    required = "totp" in have or auth_settings(user.project).require_mfa
    if required and skip_factor not in have:
        token = challenges.issue(
            user.project, AuthChallenge.MFA, MFA_TOKEN_SECONDS, user=user, data={"ua": user_agent[:256], "ip": ip[:64]}
        )
        raise MfaRequired(
            details={
                "mfa_token": token,
                "methods": [m for m in have],
                "enroll_required": not have,
                "expires_in": MFA_TOKEN_SECONDS,
            }
        )
    with transaction.atomic():
        return sessions.start_session(user, user_agent=user_agent, ip=ip)


# --- TOTP ------------------------------------------------------------------------------------


def _totp(factor) -> pyotp.TOTP:
    return pyotp.TOTP(decrypt_secret(factor.secret_encrypted, SECRET_PURPOSE), interval=STEP)


def clean_code(value: Any, field: str = "code") -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise ValidationFailed(details={field: ["Required: the 6-digit code (or a recovery code)."]})
    return value.strip().replace(" ", "").replace("-", "").lower()


def accept_totp(factor, code: str) -> bool:
    """A code of the current, previous or next step, newer than the last one accepted (no replay).

    `factor` is a row with `secret_encrypted` and `last_step` (an end-user's MfaFactor or a console
    account's AccountTotp); the step is claimed by a conditional UPDATE, so a code works once."""
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return False
    totp = _totp(factor)
    now_step = int(time.time()) // STEP
    for step in (now_step - 1, now_step, now_step + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            won = type(factor).objects.filter(pk=factor.pk, last_step__lt=step).update(last_step=step)
            return won == 1
    return False


def enroll(user: EndUser) -> dict[str, str]:
    """A new unconfirmed secret (replacing an unconfirmed one); a confirmed factor must be removed first."""
    if MfaFactor.objects.filter(user=user, kind=MfaFactor.TOTP, confirmed_at__isnull=False).exists():
        from basalt.core.errors import Conflict

        raise Conflict("An authenticator app is already set up; remove it first.")
    secret, encrypted = new_secret()
    MfaFactor.objects.update_or_create(
        user=user,
        kind=MfaFactor.TOTP,
        defaults={
            "project_id": user.project_id,
            "secret_encrypted": encrypted,
            "confirmed_at": None,
            "last_step": 0,
        },
    )
    label = user.email or user.username or user.id
    return {"secret": secret, "otpauth_uri": otpauth_uri(secret, label, user.project.name)}


def new_secret() -> tuple[str, str]:
    """A fresh TOTP seed and its encrypted form for storage."""
    secret = pyotp.random_base32()
    return secret, encrypt_secret(secret, SECRET_PURPOSE)


def otpauth_uri(secret: str, label: str, issuer: str) -> str:
    return pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=label, issuer_name=issuer[:60])


def _new_recovery_codes(user: EndUser) -> list[str]:
    codes = ["".join(secrets.choice(_CODE_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash_code(c)) for c in codes])
    return [f"{c[:5]}-{c[5:]}" for c in codes]


def _hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def confirm(user: EndUser, body: Any) -> dict[str, Any]:
    code = clean_code(body.get("code") if isinstance(body, dict) else None)
    _throttle_user(user)
    factor = MfaFactor.objects.filter(user=user, kind=MfaFactor.TOTP).first()
    if factor is None:
        raise ValidationFailed(details={"code": ["Start with POST /api/v1/auth/mfa/totp/enroll."]})
    if factor.confirmed_at is not None:
        from basalt.core.errors import Conflict

        raise Conflict("The authenticator app is already confirmed.")
    if not accept_totp(factor, code):
        raise ValidationFailed(details={"code": ["This code is not valid for the secret; check the device's clock."]})
    with transaction.atomic():
        MfaFactor.objects.filter(pk=factor.pk).update(confirmed_at=timezone.now())
        codes = _new_recovery_codes(user)
    return {"recovery_codes": codes, "methods": methods(user)}


@transaction.atomic
def remove_totp(user: EndUser) -> None:
    MfaFactor.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()


def reset_by_admin(user: EndUser) -> None:
    """Secret key or console: remove the user's TOTP and recovery codes and tell them by email."""
    remove_totp(user)
    if user.email:
        emails.send_notice_after_commit(user.project, "mfa_reset", user.email)


# --- the challenge ---------------------------------------------------------------------------


def _throttle_user(user: EndUser) -> None:
    count = getattr(settings, "IDENTITY_MFA_FAILURES_PER_USER", 20)
    limit = throttle.Limit(count, getattr(settings, "IDENTITY_LOGIN_FAILURE_WINDOW", 900))
    throttle.hit("mfa", user.project_id, user.pk, limit, "Too many second-factor attempts; retry later.")


def _live_challenge(project: Project, body: Any) -> tuple[AuthChallenge, dict[str, Any]]:
    body_object(body)
    challenge = challenges.peek(project, AuthChallenge.MFA, body.get("mfa_token"))
    if challenge is None or challenge.user is None or challenge.user.disabled:
        raise InvalidToken("The mfa_token is invalid, expired or already used; sign in again.")
    if challenge.attempts >= ATTEMPTS_PER_CHALLENGE:
        raise RateLimited(MFA_TOKEN_SECONDS, "Too many wrong codes for this sign-in; sign in again.")
    return challenge, body


def _wrong(challenge: AuthChallenge) -> None:
    if challenges.count_attempt(challenge) >= ATTEMPTS_PER_CHALLENGE:
        AuthChallenge.objects.filter(pk=challenge.pk).update(used_at=timezone.now())
        raise RateLimited(MFA_TOKEN_SECONDS, "Too many wrong codes for this sign-in; sign in again.")
    raise InvalidCredentials("The code is not valid.")


def _finish(challenge: AuthChallenge) -> sessions.TokenPair:
    won = AuthChallenge.objects.filter(pk=challenge.pk, used_at__isnull=True).update(used_at=timezone.now())
    if won != 1:
        raise InvalidToken("The mfa_token is invalid, expired or already used; sign in again.")
    with transaction.atomic():
        return sessions.start_session(
            challenge.user, user_agent=challenge.data.get("ua", ""), ip=challenge.data.get("ip", "")
        )


def finish_with_factor(project: Project, mfa_token: Any, user: EndUser) -> sessions.TokenPair:
    """A second factor proved elsewhere (a passkey assertion) finishes the user's challenge."""
    challenge = challenges.peek(project, AuthChallenge.MFA, mfa_token)
    if challenge is None or challenge.user_id != user.pk:
        raise InvalidToken("The mfa_token is invalid, expired or already used; sign in again.")
    return _finish(challenge)


def verify(project: Project, body: Any) -> dict[str, Any]:
    """Finish a sign-in that answered mfa_required with a TOTP code or a recovery code."""
    challenge, body = _live_challenge(project, body)
    user = challenge.user
    code = clean_code(body.get("code"))
    _throttle_user(user)
    factor = MfaFactor.objects.filter(user=user, kind=MfaFactor.TOTP, confirmed_at__isnull=False).first()
    ok = factor is not None and accept_totp(factor, code)
    if not ok and factor is not None and len(code) == 10:
        ok = (
            RecoveryCode.objects.filter(user=user, code_hash=_hash_code(code), used_at__isnull=True).update(
                used_at=timezone.now()
            )
            == 1
        )
    if not ok:
        _wrong(challenge)
    return {"user": user, "pair": _finish(challenge)}


def enroll_with_challenge(project: Project, body: Any) -> dict[str, str]:
    """A `require_mfa` project's user without a factor enrols with the sign-in's mfa_token."""
    challenge, _ = _live_challenge(project, body)
    if methods(challenge.user):
        # Only a user with no factor at all enrols this way: someone holding just the password
        # must not add their own authenticator to an account protected by a passkey.
        from basalt.core.errors import PermissionDenied

        raise PermissionDenied("This account already has a second factor; finish the sign-in with it.")
    return enroll(challenge.user)


def confirm_with_challenge(project: Project, body: Any) -> dict[str, Any]:
    challenge, body = _live_challenge(project, body)
    if "totp" in methods(challenge.user):
        from basalt.core.errors import PermissionDenied

        raise PermissionDenied("This account already has a second factor; finish the sign-in with it.")
    result = confirm(challenge.user, body)
    return {**result, "user": challenge.user, "pair": _finish(challenge)}

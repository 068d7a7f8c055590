"""Passkeys (WebAuthn) with the `webauthn` package: registration on the signed-in user, then
password-less sign-in or use as the second factor of an `mfa_required` sign-in.

The relying party is per project (`auth.passkey_rp_id`, `auth.passkey_rp_name`,
`auth.passkey_origins`); passkeys are off until an rp id and at least one origin are set.
Each ceremony's challenge is an AuthChallenge (single use, 5 minutes) named by `challenge_id`.
Password-less sign-in requires user verification (the authenticator's PIN or biometric), so a
passkey alone counts as two factors; the sign counter must grow when the authenticator keeps one.
"""

from __future__ import annotations

import json
from typing import Any

import webauthn
from django.db import IntegrityError, transaction
from django.utils import timezone
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from basalt.core.errors import (
    Conflict,
    InvalidCredentials,
    InvalidToken,
    PermissionDenied,
    ValidationFailed,
    body_object,
)
from basalt.core.times import iso
from basalt.identity import challenges, mfa
from basalt.identity.auth_settings import auth_settings
from basalt.identity.models import AuthChallenge, EndUser, Passkey
from basalt.projects.models import Project

CHALLENGE_SECONDS = 300
MAX_CREDENTIAL_JSON = 64 * 1024
MAX_PASSKEYS_PER_USER = 20


def _relying_party(project: Project) -> tuple[str, str, list[str]]:
    policy = auth_settings(project)
    if not policy.passkey_rp_id or not policy.passkey_origins:
        raise PermissionDenied("Passkeys are not set up for this project.", code="passkeys_disabled")
    return policy.passkey_rp_id, policy.passkey_rp_name or project.name, list(policy.passkey_origins)


def _credential(body: Any) -> str:
    if not isinstance(body, dict) or not isinstance(body.get("credential"), dict):
        raise ValidationFailed(details={"credential": ["Required: the PublicKeyCredential as JSON."]})
    raw = json.dumps(body["credential"])
    if len(raw) > MAX_CREDENTIAL_JSON:
        raise ValidationFailed(details={"credential": ["Too large."]})
    return raw


def _challenge(project: Project, body: Any, kind: str) -> AuthChallenge:
    raw = body.get("challenge_id") if isinstance(body, dict) else None
    spent = challenges.spend(project, AuthChallenge.PASSKEY, raw)
    if spent is None or spent.data.get("kind") != kind:
        raise InvalidToken("The passkey challenge is invalid, expired or already used; ask for new options.")
    return spent


def register_options(user: EndUser) -> dict[str, Any]:
    rp_id, rp_name, _ = _relying_party(user.project)
    existing = list(Passkey.objects.filter(user=user).values_list("credential_id", flat=True))
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_name=user.email or user.username or user.id,
        user_id=user.id.encode(),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c)) for c in existing],
    )
    challenge_id = challenges.issue(
        user.project,
        AuthChallenge.PASSKEY,
        CHALLENGE_SECONDS,
        user=user,
        data={"kind": "register", "challenge": bytes_to_base64url(options.challenge)},
    )
    return {"challenge_id": challenge_id, "options": json.loads(webauthn.options_to_json(options))}


def register(user: EndUser, body: Any) -> dict[str, Any]:
    rp_id, _, origins = _relying_party(user.project)
    credential = _credential(body)
    spent = _challenge(user.project, body, "register")
    if spent.user_id != user.pk:
        raise InvalidToken("The passkey challenge belongs to another user.")
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=webauthn.base64url_to_bytes(spent.data["challenge"]),
            expected_rp_id=rp_id,
            expected_origin=origins,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as error:
        raise ValidationFailed(details={"credential": [f"The passkey did not verify: {str(error)[:200]}"]})
    if Passkey.objects.filter(user=user).count() >= MAX_PASSKEYS_PER_USER:
        raise Conflict(f"At most {MAX_PASSKEYS_PER_USER} passkeys per user.")
    try:
        with transaction.atomic():
            passkey = Passkey.objects.create(
                project_id=user.project_id,
                user=user,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=bytes_to_base64url(verified.credential_public_key),
                sign_count=verified.sign_count,
                transports=[
                    t
                    for t in (body.get("credential", {}).get("response", {}).get("transports") or [])
                    if isinstance(t, str)
                ][:10],
            )
    except IntegrityError:
        raise Conflict("This passkey is already registered.")
    return passkey_out(passkey)


def passkey_out(passkey: Passkey) -> dict[str, Any]:
    return {
        "id": passkey.pk,
        "credential_id": passkey.credential_id,
        "created_at": iso(passkey.created_at),
        "last_used_at": iso(passkey.last_used_at),
    }


def login_options(project: Project, body: Any) -> dict[str, Any]:
    """Options for a sign-in: discoverable (any passkey of the site) or, with an `mfa_token`, the
    passkeys of the user who is half-way through signing in."""
    rp_id, _, _ = _relying_party(project)
    body = body_object(body)
    allow, user = [], None
    if body.get("mfa_token") is not None:
        challenge = challenges.peek(project, AuthChallenge.MFA, body.get("mfa_token"))
        if challenge is None or challenge.user is None:
            raise InvalidToken("The mfa_token is invalid, expired or already used; sign in again.")
        user = challenge.user
        allow = [
            PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(c))
            for c in Passkey.objects.filter(user=user).values_list("credential_id", flat=True)
        ]
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, allow_credentials=allow, user_verification=UserVerificationRequirement.REQUIRED
    )
    challenge_id = challenges.issue(
        project,
        AuthChallenge.PASSKEY,
        CHALLENGE_SECONDS,
        user=user,
        data={"kind": "login", "challenge": bytes_to_base64url(options.challenge)},
    )
    return {"challenge_id": challenge_id, "options": json.loads(webauthn.options_to_json(options))}


def login(project: Project, body: Any, client) -> dict[str, Any]:
    """Verify an assertion: finishes an `mfa_token` sign-in, or signs in password-less."""
    rp_id, _, origins = _relying_party(project)
    credential = _credential(body)
    spent = _challenge(project, body, "login")
    raw_id = body["credential"].get("rawId") or body["credential"].get("id")
    passkey = (
        Passkey.objects.select_related("user", "user__project").filter(project=project, credential_id=raw_id).first()
        if isinstance(raw_id, str) and len(raw_id) <= 1400
        else None
    )
    if passkey is None or (spent.user_id is not None and passkey.user_id != spent.user_id):
        raise InvalidCredentials("This passkey is not registered here.")
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=webauthn.base64url_to_bytes(spent.data["challenge"]),
            expected_rp_id=rp_id,
            expected_origin=origins,
            credential_public_key=webauthn.base64url_to_bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        raise InvalidCredentials("The passkey assertion did not verify.")
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    user = passkey.user
    if user.disabled:
        raise InvalidCredentials()
    if spent.user_id is not None or (isinstance(body, dict) and body.get("mfa_token") is not None):
        result = mfa.finish_with_factor(project, body.get("mfa_token"), user)
    else:
        from basalt.identity.federation import _signed_in

        return _signed_in(user, client, skip_factor="passkey")
    from basalt.identity import builtin
    from basalt.identity.serializers import user_out

    return {"user": user_out(user, builtin.custom_fields(user)), **result.as_dict()}


def my_passkeys(user: EndUser) -> list[dict[str, Any]]:
    return [passkey_out(p) for p in Passkey.objects.filter(user=user).order_by("created_at")]


def remove(user: EndUser, passkey_id: Any) -> None:
    from basalt.core.errors import NotFound
    from basalt.identity.federation import refuse_last_way_in

    if not isinstance(passkey_id, str) or not (passkey_id.isascii() and passkey_id.isdigit()) or len(passkey_id) > 18:
        raise NotFound()
    with transaction.atomic():
        user = EndUser.objects.select_for_update().get(pk=user.pk)
        passkey = Passkey.objects.filter(user=user, pk=int(passkey_id)).first()
        if passkey is None:
            raise NotFound()
        refuse_last_way_in(user, passkey=passkey)
        passkey.delete()

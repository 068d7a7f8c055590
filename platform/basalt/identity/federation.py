"""Sign-in with third-party providers, linking and unlinking, and the browser code flow.

A provider (`providers/`) only says who the caller is (a `ProviderIdentity`); the rules live
here, the same for every provider:
- a known (provider, subject) signs in as its user;
- otherwise an address that belongs to an account never links silently: `409 account_exists`,
  unless the project turned on `link_by_verified_email` and both the provider and the account
  say the address is verified;
- otherwise a new user is created (email and email_verified as the provider asserted them);
- every sign-in goes through `mfa.gate`, so a provider never skips a second factor.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import (
    BasaltError,
    Conflict,
    InvalidToken,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    body_object,
)
from basalt.core.times import iso
from basalt.identity import builtin, challenges, mfa
from basalt.identity.auth_settings import auth_settings
from basalt.identity.models import AuthChallenge, EndUser, LinkedIdentity, Passkey
from basalt.identity.providers import (
    AccountExists,
    AuthProvider,
    ProviderDisabled,
    ProviderIdentity,
    registry,
)
from basalt.identity.serializers import user_out
from basalt.projects.models import Project

STATE_SECONDS = 600
EXCHANGE_SECONDS = 120
_NAME_MAX = 40


def enabled_provider(project: Project, name: Any) -> tuple[AuthProvider, dict[str, Any]]:
    """The registered provider and its project configuration; 404 unknown, 403 disabled."""
    provider = registry.get(name) if isinstance(name, str) else None
    if provider is None:
        raise NotFound(f"No sign-in provider named {str(name)[:_NAME_MAX]!r}.")
    config = auth_settings(project).providers.get(provider.name)
    if not isinstance(config, dict) or not config.get("enabled"):
        raise ProviderDisabled(f"Sign-in with {provider.name} is not enabled for this project.")
    return provider, config


def _body(body: Any) -> dict[str, Any]:
    body_object(body)
    return body


def _verify(project: Project, name: Any, body: Any) -> ProviderIdentity:
    provider, config = enabled_provider(project, name)
    return provider.verify(project, config, _body(body))


def _merge_profile(stored: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    # A value the provider sends only once (Apple's name) is kept when later sign-ins omit it.
    return {**stored, **{k: v for k, v in fresh.items() if v not in (None, "")}}


def _find_or_create(project: Project, identity: ProviderIdentity) -> EndUser:
    policy = auth_settings(project)
    with transaction.atomic():
        linked = (
            LinkedIdentity.objects.select_for_update()
            .select_related("user", "user__project")
            .filter(project=project, provider=identity.provider, subject=identity.subject)
            .first()
        )
        if linked is not None:
            linked.profile = _merge_profile(linked.profile, identity.profile)
            linked.email, linked.email_verified = identity.email, identity.email_verified
            linked.last_sign_in_at = timezone.now()
            linked.save(update_fields=["profile", "email", "email_verified", "last_sign_in_at"])
            return linked.user
        existing = (
            EndUser.objects.select_for_update()
            .select_related("project")
            .filter(project=project, email=identity.email)
            .first()
            if identity.email
            else None
        )
        if existing is not None:
            if not (policy.link_by_verified_email and identity.email_verified and existing.email_verified):
                raise AccountExists()
            _link(existing, identity)
            return existing
        if not policy.sign_up_enabled:
            raise PermissionDenied("Sign-up is closed for this project.")
        try:
            with transaction.atomic():
                user = EndUser.objects.create(
                    project=project,
                    email=identity.email,
                    email_verified=bool(identity.email and identity.email_verified),
                )
                builtin.sync_user(user)
                _link(user, identity)
        except IntegrityError:  # a concurrent first sign-in of the same account or address won
            raise Conflict("A concurrent sign-in created this account; retry.")
        return user


def _link(user: EndUser, identity: ProviderIdentity) -> LinkedIdentity:
    return LinkedIdentity.objects.create(
        project_id=user.project_id,
        user=user,
        provider=identity.provider,
        subject=identity.subject,
        email=identity.email,
        email_verified=identity.email_verified,
        profile=identity.profile,
    )


def sign_in(project: Project, name: Any, body: Any, client) -> dict[str, Any]:
    identity = _verify(project, name, body)
    user = _find_or_create(project, identity)
    return _signed_in(user, client)


def _signed_in(user: EndUser, client, skip_factor: str | None = None) -> dict[str, Any]:
    from basalt.core.errors import InvalidCredentials

    if user.disabled:
        raise InvalidCredentials()
    pair = mfa.gate(user, user_agent=client.user_agent, ip=client.ip, skip_factor=skip_factor)
    return {"user": user_out(user, builtin.custom_fields(user)), **pair.as_dict()}


# --- the signed-in user's identities -----------------------------------------------------------


def identity_out(linked: LinkedIdentity) -> dict[str, Any]:
    return {
        "provider": linked.provider,
        "subject": linked.subject,
        "email": linked.email,
        "email_verified": linked.email_verified,
        "profile": linked.profile,
        "created_at": iso(linked.created_at),
        "last_sign_in_at": iso(linked.last_sign_in_at),
    }


def _me(caller: Caller) -> EndUser:
    from basalt.identity.services import current_user

    return current_user(caller)


def my_identities(caller: Caller) -> list[dict[str, Any]]:
    user = _me(caller)
    return [identity_out(i) for i in LinkedIdentity.objects.filter(user=user).order_by("provider")]


def link(caller: Caller, name: Any, body: Any) -> dict[str, Any]:
    """Link a provider to the signed-in user; an anonymous user becomes a full one (same id, data)."""
    user = _me(caller)
    identity = _verify(caller.project, name, body)
    with transaction.atomic():
        user = EndUser.objects.select_for_update().get(pk=user.pk)
        taken = LinkedIdentity.objects.filter(
            project=caller.project, provider=identity.provider, subject=identity.subject
        )
        if taken.exclude(user=user).exists():
            raise Conflict("This provider account is already linked to another user.", code="account_exists")
        if (
            LinkedIdentity.objects.filter(user=user, provider=identity.provider)
            .exclude(subject=identity.subject)
            .exists()
        ):
            raise Conflict(f"Another {identity.provider} account is already linked; unlink it first.")
        if not taken.exists():
            _link(user, identity)
        if user.is_anonymous:
            before = builtin.identity_fields(user)
            user.is_anonymous = False
            if identity.email and not EndUser.objects.filter(project=caller.project, email=identity.email).exists():
                user.email, user.email_verified = identity.email, identity.email_verified
            user.updated_at = timezone.now()
            user.save(update_fields=["is_anonymous", "email", "email_verified", "updated_at"])
            if builtin.identity_fields(user) != before:
                builtin.sync_user(user)
    return {"user": user_out(user, builtin.custom_fields(user)), "identities": my_identities(caller)}


def unlink(caller: Caller, name: Any) -> None:
    """Remove a linked provider, unless it is the last way left to sign in."""
    user = _me(caller)
    if not isinstance(name, str) or registry.get(name) is None:
        raise NotFound("No such linked provider.")
    with transaction.atomic():
        user = EndUser.objects.select_for_update().get(pk=user.pk)
        linked = LinkedIdentity.objects.filter(user=user, provider=name).first()
        if linked is None:
            raise NotFound("No such linked provider.")
        refuse_last_way_in(user, identity=linked)
        linked.delete()


def refuse_last_way_in(
    user: EndUser, *, identity: LinkedIdentity | None = None, passkey: Passkey | None = None
) -> None:
    """409 when removing `identity` or `passkey` would leave no way to sign in (call under the user's lock)."""
    identities = LinkedIdentity.objects.filter(user=user)
    passkeys = Passkey.objects.filter(user=user)
    if identity is not None:
        identities = identities.exclude(pk=identity.pk)
    if passkey is not None:
        passkeys = passkeys.exclude(pk=passkey.pk)
    if not (identities.exists() or passkeys.exists() or (user.has_password and bool(user.email or user.username))):
        raise Conflict(
            "This is the last way to sign in to the account: add a password or another provider first.",
            code="last_sign_in_method",
        )


# --- the browser flow: authorize → provider → callback → redirect_to?code= → exchange ----------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)[:96]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = (parts.query + "&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def authorize(project: Project, name: Any, redirect_to: Any, callback_url: str) -> tuple[str, str]:
    """Start a browser sign-in: the provider URL to redirect to and the browser-binding secret.

    `redirect_to` must equal one of `auth.redirect_urls` exactly (no prefix or pattern match: no
    open redirect). The `state` is stored hashed with the PKCE verifier, the nonce, the project,
    the provider and a hash of a secret set as a cookie, so the callback only finishes in the
    browser that started it, once."""
    provider, config = enabled_provider(project, name)
    if "code" not in provider.kinds:
        raise ValidationFailed(details={"provider": [f"{provider.name} signs in with an ID token, not a redirect."]})
    if not isinstance(redirect_to, str) or redirect_to not in auth_settings(project).redirect_urls:
        raise ValidationFailed(details={"redirect_to": ["Must be one of the project's allowed redirect URLs."]})
    verifier, code_challenge = _pkce()
    nonce, binding = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    state = challenges.issue(
        project,
        AuthChallenge.STATE,
        STATE_SECONDS,
        data={
            "provider": provider.name,
            "verifier": verifier,
            "nonce": nonce,
            "redirect_to": redirect_to,
            "callback": callback_url,
            "binding": hashlib.sha256(binding.encode()).hexdigest(),
        },
    )
    url = provider.authorize_url(
        project, config, redirect_uri=callback_url, state=state, code_challenge=code_challenge, nonce=nonce
    )
    return url, binding


def _state_project(raw: Any) -> AuthChallenge | None:
    from basalt.identity.tokens import hash_token

    if not isinstance(raw, str) or not 20 <= len(raw) <= challenges.MAX_LENGTH:
        return None
    return (
        AuthChallenge.objects.select_related("project")
        .filter(token_hash=hash_token(raw), purpose=AuthChallenge.STATE)
        .first()
    )


def callback(name: Any, params: dict[str, Any], binding: str | None) -> str:
    """Finish at the callback: spend the state, exchange the code, and return where to send the
    browser — `redirect_to?code=<one-time code>` or `redirect_to?error=<code>`."""
    raw_state = params.get("state")
    if not isinstance(raw_state, str) or not 20 <= len(raw_state) <= challenges.MAX_LENGTH:
        raise ValidationFailed(details={"state": ["Missing or malformed: start the sign-in again."]})
    found = _state_project(raw_state)
    if found is None:
        raise InvalidToken("The sign-in state is unknown or expired; start again.")
    state = challenges.spend(found.project, AuthChallenge.STATE, params.get("state"))
    if state is None:
        raise InvalidToken("The sign-in state was already used or has expired; start again.")
    data = state.data
    if data.get("provider") != name:
        raise InvalidToken("The sign-in state belongs to another provider.")
    if not binding or not secrets.compare_digest(hashlib.sha256(binding.encode()).hexdigest(), data.get("binding", "")):
        raise InvalidToken("The sign-in was started in another browser; start again.")
    redirect_to = data["redirect_to"]
    if params.get("error"):
        return _with_query(redirect_to, {"error": str(params["error"])[:64]})
    try:
        provider, config = enabled_provider(found.project, name)
        code = params.get("code")
        if not isinstance(code, str) or not 1 <= len(code) <= 2048:
            raise ValidationFailed(details={"code": ["Missing."]})
        identity = provider.exchange(config, code, data["verifier"], data["callback"], data["nonce"])
        user = _find_or_create(found.project, identity)
    except BasaltError as error:  # account_exists, provider_unavailable, invalid_token, …: the app shows it
        return _with_query(redirect_to, {"error": error.code})
    one_time = challenges.issue(found.project, AuthChallenge.EXCHANGE, EXCHANGE_SECONDS, user=user)
    return _with_query(redirect_to, {"code": one_time})


def exchange(project: Project, body: Any, client) -> dict[str, Any]:
    """`POST /auth/providers/exchange {code}`: the one-time code from the redirect → the sign-in."""
    body = _body(body)
    spent = challenges.spend(project, AuthChallenge.EXCHANGE, body.get("code"))
    if spent is None or spent.user is None:
        raise InvalidToken("The code is invalid, expired or already used.")
    return _signed_in(spent.user, client)

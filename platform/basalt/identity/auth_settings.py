"""The `auth` section of a project's settings: password policy, token lifetimes, sign-in switches."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.core.json import NUL_MESSAGE, has_nul
from basalt.projects.models import Project

EMAIL_KINDS = ("verify", "reset", "registered", "mfa_reset")
TEMPLATE_PARTS = ("subject", "body")
CHARACTER_CLASSES = ("lower", "upper", "digit", "symbol")

# Flat keys: the project settings merge one level deep, so a nested policy object would lose the
# keys a partial PATCH did not repeat.
DEFAULTS: dict[str, Any] = {
    "password_min_length": 8,
    "password_require_classes": [],
    "password_reject_common": True,
    "access_token_ttl": 900,
    "refresh_token_ttl": 30 * 24 * 3600,
    # Live sessions one user may hold; signing in past it ends the least recently used one.
    "max_sessions_per_user": 10,
    "require_verified_email_for_login": False,
    "anonymous_enabled": True,
    "sign_up_enabled": True,
    # Links put in emails; `{token}` is replaced. Empty: the email carries the bare token.
    "verify_url": "",
    "reset_url": "",
    "email_templates": {},
    # Sign-in providers (`identity/providers/config.py`): per provider enabled, client ids,
    # write-only secret, issuer. Exact URLs a browser sign-in may return to (`redirect_to`).
    "providers": {},
    "redirect_urls": [],
    # A provider whose email matches an existing account links to it only when this is on and
    # both the provider and the account say the address is verified; otherwise 409 account_exists.
    "link_by_verified_email": False,
    # Every sign-in needs a second factor (users without one enrol through the mfa_token).
    "require_mfa": False,
    # WebAuthn relying party: id (a registrable domain) and the origins pages may sign in from.
    "passkey_rp_id": "",
    "passkey_rp_name": "",
    "passkey_origins": [],
}
_BOUNDS = {"access_token_ttl": (60, 24 * 3600), "refresh_token_ttl": (3600, 365 * 24 * 3600)}
_COUNTS = {"max_sessions_per_user": (1, 1000)}
_BOOLEANS = (
    "require_verified_email_for_login",
    "anonymous_enabled",
    "sign_up_enabled",
    "link_by_verified_email",
    "require_mfa",
)
_EXACT_URL = re.compile(r"\A[a-z][a-z0-9+.-]{1,30}://[^\s#]{1,1000}\Z")
_ORIGIN = re.compile(r"\Ahttps?://[A-Za-z0-9.-]{1,253}(:\d{1,5})?\Z")
_RP_ID = re.compile(r"\A[a-z0-9.-]{1,253}\Z")
_URL = re.compile(r"\A(?:https?://[^\s]{1,500}|[a-z][a-z0-9+.-]{1,30}://[^\s]{1,500})\Z")


@dataclass(frozen=True)
class AuthSettings:
    min_length: int
    require_classes: tuple[str, ...]
    reject_common: bool
    access_token_ttl: int
    refresh_token_ttl: int
    max_sessions_per_user: int
    require_verified_email_for_login: bool
    anonymous_enabled: bool
    sign_up_enabled: bool
    verify_url: str
    reset_url: str
    email_templates: dict[str, dict[str, str]]
    providers: dict[str, dict[str, Any]]
    redirect_urls: tuple[str, ...]
    link_by_verified_email: bool
    require_mfa: bool
    passkey_rp_id: str
    passkey_rp_name: str
    passkey_origins: tuple[str, ...]


def auth_settings(project: Project) -> AuthSettings:
    stored = (project.settings or {}).get("auth") or {}
    merged = copy.deepcopy(DEFAULTS)
    for name, value in stored.items():
        if name in merged:
            merged[name] = value
    return AuthSettings(
        min_length=merged["password_min_length"],
        require_classes=tuple(merged["password_require_classes"]),
        reject_common=merged["password_reject_common"],
        access_token_ttl=merged["access_token_ttl"],
        refresh_token_ttl=merged["refresh_token_ttl"],
        max_sessions_per_user=merged["max_sessions_per_user"],
        require_verified_email_for_login=merged["require_verified_email_for_login"],
        anonymous_enabled=merged["anonymous_enabled"],
        sign_up_enabled=merged["sign_up_enabled"],
        verify_url=merged["verify_url"],
        reset_url=merged["reset_url"],
        email_templates=merged["email_templates"],
        providers=merged["providers"] if isinstance(merged["providers"], dict) else {},
        redirect_urls=tuple(merged["redirect_urls"]),
        link_by_verified_email=merged["link_by_verified_email"],
        require_mfa=merged["require_mfa"],
        passkey_rp_id=merged["passkey_rp_id"],
        passkey_rp_name=merged["passkey_rp_name"],
        passkey_origins=tuple(merged["passkey_origins"]),
    )


def _int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _validate_password(name: str, item: Any, errors: dict[str, list[str]]) -> None:
    key = f"auth.{name}"
    if name == "password_min_length":
        if not _int_in(item, 6, 128):
            errors[key] = ["Must be an integer from 6 to 128."]
    elif name == "password_require_classes":
        if not isinstance(item, list) or any(c not in CHARACTER_CLASSES for c in item):
            errors[key] = [f"Must be a list drawn from {', '.join(CHARACTER_CLASSES)}."]
    elif not isinstance(item, bool):
        errors[key] = ["Must be a boolean."]


def _validate_templates(value: Any, errors: dict[str, list[str]]) -> None:
    if not isinstance(value, dict):
        errors["auth.email_templates"] = ["Must be an object."]
        return
    for kind, parts in value.items():
        key = f"auth.email_templates.{kind}"
        if kind not in EMAIL_KINDS:
            errors[key] = [f"Unknown email; known: {', '.join(EMAIL_KINDS)}."]
        elif not isinstance(parts, dict) or set(parts) - set(TEMPLATE_PARTS):
            errors[key] = ["Must be an object with 'subject' and/or 'body'."]
        elif any(not isinstance(text, str) or len(text) > 20000 for text in parts.values()):
            errors[key] = ["Templates are strings of at most 20000 characters."]
        elif "\n" in parts.get("subject", "") or "\r" in parts.get("subject", ""):
            errors[key] = ["A subject is one line."]
        elif has_nul(parts):
            errors[key] = [NUL_MESSAGE]


def _validate_urls(name: str, item: Any, errors: dict[str, list[str]]) -> None:
    pattern = _ORIGIN if name == "passkey_origins" else _EXACT_URL
    if not isinstance(item, list) or len(item) > 50 or not all(isinstance(u, str) and pattern.match(u) for u in item):
        what = "origins like https://app.example.com" if name == "passkey_origins" else "absolute URLs"
        errors[f"auth.{name}"] = [f"Must be a list of at most 50 {what}."]


def validate_auth_section(value: Any, stored: Any = None) -> dict[str, Any]:
    """Check a (partial) `auth` section as the management API receives it.

    `stored` is the section as saved: `providers` merge per provider over it, so a change that
    leaves out a client secret keeps the saved (encrypted) one."""
    from basalt.identity.providers.config import validate_providers

    if not isinstance(value, dict):
        raise ValidationFailed(details={"auth": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    value = dict(value)
    for name, item in list(value.items()):
        if name == "providers":
            saved = (stored or {}).get("providers") if isinstance(stored, dict) else None
            value[name] = validate_providers(item, saved, errors)
            continue
        if name in ("redirect_urls", "passkey_origins"):
            _validate_urls(name, item, errors)
            continue
        if name in ("passkey_rp_id", "passkey_rp_name"):
            if (
                not isinstance(item, str)
                or len(item) > 253
                or (name == "passkey_rp_id" and item and not _RP_ID.match(item))
            ):
                errors[f"auth.{name}"] = ["Must be a domain name (rp id) or a short name."]
            continue
        key = f"auth.{name}"
        if name in ("password_min_length", "password_require_classes", "password_reject_common"):
            _validate_password(name, item, errors)
        elif name in _BOUNDS:
            low, high = _BOUNDS[name]
            if not _int_in(item, low, high):
                errors[key] = [f"Must be a number of seconds from {low} to {high}."]
        elif name in _COUNTS:
            low, high = _COUNTS[name]
            if not _int_in(item, low, high):
                errors[key] = [f"Must be an integer from {low} to {high}."]
        elif name in _BOOLEANS:
            if not isinstance(item, bool):
                errors[key] = ["Must be a boolean."]
        elif name in ("verify_url", "reset_url"):
            if not isinstance(item, str) or (item and not _URL.match(item)):
                errors[key] = ["Must be an absolute URL (it may contain {token})."]
        elif name == "email_templates":
            _validate_templates(item, errors)
        else:
            errors[key] = ["Unknown setting."]
    if errors:
        raise ValidationFailed(details=errors)
    return value


validate_auth_section.merges_stored = True  # type: ignore[attr-defined]


def redact_auth_section(section: Any) -> Any:
    """The section as the management API shows it: provider secrets never leave the server."""
    from basalt.identity.providers.config import redact_providers

    if isinstance(section, dict) and "providers" in section:
        section["providers"] = redact_providers(section["providers"])
    return section

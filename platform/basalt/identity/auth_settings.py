"""The `auth` section of a project's settings: password policy, token lifetimes, sign-in switches."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.projects.models import Project

EMAIL_KINDS = ("verify", "reset", "registered")
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
}
_BOUNDS = {"access_token_ttl": (60, 24 * 3600), "refresh_token_ttl": (3600, 365 * 24 * 3600)}
_COUNTS = {"max_sessions_per_user": (1, 1000)}
_BOOLEANS = ("require_verified_email_for_login", "anonymous_enabled", "sign_up_enabled")
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


def validate_auth_section(value: Any) -> dict[str, Any]:
    """Check a (partial) `auth` section as the management API receives it."""
    if not isinstance(value, dict):
        raise ValidationFailed(details={"auth": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    for name, item in value.items():
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

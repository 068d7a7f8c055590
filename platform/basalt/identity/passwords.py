"""Password policy and hashing for end-users (Argon2 via Django's configured hasher)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import CommonPasswordValidator

from basalt.core.errors import ValidationFailed
from basalt.identity.auth_settings import AuthSettings

MAX_PASSWORD_LENGTH = 256
_CLASS_TESTS = {
    "lower": str.islower,
    "upper": str.isupper,
    "digit": str.isdigit,
    "symbol": lambda ch: not ch.isalnum() and not ch.isspace(),
}
_CLASS_NAMES = {
    "lower": "a lower-case letter",
    "upper": "an upper-case letter",
    "digit": "a digit",
    "symbol": "a symbol",
}


@functools.lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(CommonPasswordValidator().passwords)


def check_policy(password: object, policy: AuthSettings) -> str:
    """Return the password if it meets the project's policy, else raise validation_failed."""
    if not isinstance(password, str):
        raise ValidationFailed(details={"password": ["Must be a string."]})
    problems = []
    if len(password) < policy.min_length:
        problems.append(f"Must be at least {policy.min_length} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"Must be at most {MAX_PASSWORD_LENGTH} characters.")
    for name in policy.require_classes:
        if not any(_CLASS_TESTS[name](ch) for ch in password):
            problems.append(f"Must contain {_CLASS_NAMES[name]}.")
    if policy.reject_common and password.lower().strip() in _common_passwords():
        problems.append("This password is too common.")
    if problems:
        raise ValidationFailed(details={"password": problems})
    return password


def hash_password(password: str) -> str:
    return make_password(password)


def verify_password(password: str, encoded: str, setter: Callable[[str], None] | None = None) -> bool:
    """Check a password; an account without one still costs one Argon2 run (no timing oracle).

    `setter` receives the raw password when the stored hash uses an outdated cost, so raising
    ARGON2_* upgrades each account at its next sign-in."""
    if not encoded:
        check_password(password, _dummy_hash())
        return False
    return check_password(password, encoded, setter)


def burn_hash(password: str) -> None:
    """Spend the same Argon2 time as a real check, for unknown accounts."""
    check_password(password, _dummy_hash())


def _dummy_hash() -> str:
    # Keyed by the cost settings so a dummy check always costs what a real one does.
    return _dummy_for(settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_COST_KIB, settings.ARGON2_PARALLELISM)


@functools.lru_cache(maxsize=8)
def _dummy_for(time_cost: int, memory: int, parallelism: int) -> str:
    return make_password("basalt-dummy-password-for-timing")

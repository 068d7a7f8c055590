"""Validation of end-user fields: email, username and custom fields (no system field writable)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from basalt.core.errors import ValidationFailed
from basalt.core.json import NUL_MESSAGE, has_nul
from basalt.documents.schema import NAME_RULE

FIELD_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,62}\Z")
USERNAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{2,31}\Z")
MAX_CUSTOM_FIELDS = 100
# Never writable by a client through signup or PATCH me: they have their own flows or none.
SYSTEM_FIELDS = frozenset(
    {
        "id",
        "created_at",
        "updated_at",
        "acl",
        "email_verified",
        "is_anonymous",
        "disabled",
        "sessions",
        "roles",
        "password_hash",
        "data",
        "project",
        "authdata",
        "auth_data",
        "providers",
        "objectid",
        "_id",
    }
)
_email = EmailValidator()


def clean_email(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 254:
        raise ValidationFailed(details={"email": ["Must be an email address."]})
    email = unicodedata.normalize("NFKC", value).strip().lower()
    try:
        _email(email)
    except ValidationError:
        raise ValidationFailed(details={"email": ["Must be an email address."]})
    return email


def clean_username(value: Any) -> str:
    if not isinstance(value, str) or not USERNAME.match(value):
        raise ValidationFailed(
            details={"username": ["3 to 32 letters, digits, '_', '.' or '-', starting with a letter or digit."]}
        )
    return value


def clean_custom(fields: dict[str, Any]) -> dict[str, Any]:
    """Refuse system and malformed names (mass assignment); the documents rules decide the rest."""
    errors: dict[str, list[str]] = {}
    for name in fields:
        if name.lower() in SYSTEM_FIELDS:
            errors[name[:64]] = ["This field is read-only."]
        elif not FIELD_NAME.match(name):
            errors[name[:64]] = [NAME_RULE]
    if len(fields) > MAX_CUSTOM_FIELDS:
        errors["fields"] = [f"At most {MAX_CUSTOM_FIELDS} custom fields."]
    if not errors and has_nul(fields):
        errors["fields"] = [NUL_MESSAGE]
    if errors:
        raise ValidationFailed(details=errors)
    return fields

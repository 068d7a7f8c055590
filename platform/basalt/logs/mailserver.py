"""The install's SMTP settings (console, install owners): read, validate and save them."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone

from basalt.core import sealing
from basalt.core.errors import PermissionDenied, ValidationFailed

PURPOSE = b"basalt.logs.smtp-password"
HOST = re.compile(r"\A[A-Za-z0-9.-]{1,253}\Z")


def current():
    """The configured server row, or None when no host is set."""
    from basalt.logs.models import MailServer

    row = MailServer.objects.first()
    return row if row is not None and row.host else None


def password(row) -> str:
    return sealing.unseal(PURPOSE, row.password_sealed).decode() if row.password_sealed else ""


def save(account, data: dict[str, Any]):
    """Store the SMTP settings; only an install owner may. A blank password keeps the stored one."""
    from basalt.logs.models import MailServer

    if not getattr(account, "is_superuser", False):
        raise PermissionDenied("Only an owner of this installation changes its mail server.")
    errors: dict[str, list[str]] = {}
    host = str(data.get("host") or "").strip()
    if host and not HOST.match(host):
        errors["host"] = ["A host name or address, like smtp.example.com."]
    try:
        port = int(str(data.get("port") or "587"))
        if not 1 <= port <= 65535:
            raise ValueError
    except ValueError:
        errors["port"] = ["A port from 1 to 65535."]
        port = 587
    from_email = str(data.get("from_email") or "").strip()
    if from_email:
        try:
            validate_email(from_email)
        except ValidationError:
            errors["from_email"] = ["An email address."]
    username = str(data.get("username") or "").strip()[:255]
    if errors:
        raise ValidationFailed(details=errors)
    row = MailServer.objects.first() or MailServer()
    row.host, row.port, row.username, row.from_email = host, port, username, from_email
    row.use_tls = bool(data.get("use_tls"))
    new_password = str(data.get("password") or "")
    if new_password:
        row.password_sealed = sealing.seal(PURPOSE, new_password.encode())
    if data.get("clear_password"):
        row.password_sealed = ""
    row.updated_at = timezone.now()
    row.save()
    return row

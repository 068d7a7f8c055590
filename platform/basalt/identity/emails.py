"""Verification and reset emails: default templates on disk, per-project overrides in settings.

Overrides are plain strings with `{name}` placeholders filled by one regular-expression pass:
user input (an email address, a project name) is never rendered as a template.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import transaction
from django.template.loader import get_template

from basalt.identity.auth_settings import auth_settings
from basalt.logs.mail import send_tagged
from basalt.projects.models import Project

logger = logging.getLogger("basalt.identity.email")
_PLACEHOLDER = re.compile(r"\{([a-z_]{1,40})\}")


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace known `{name}` placeholders once; unknown ones stay as written."""
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)


def _default(kind: str, part: str) -> str:
    template = get_template(f"identity/email/{kind}_{part}.txt")
    return template.template.source  # the raw file: it goes through `substitute`, not Django


def render(project: Project, kind: str, values: dict[str, str]) -> tuple[str, str]:
    overrides = auth_settings(project).email_templates.get(kind) or {}
    subject = substitute(overrides.get("subject") or _default(kind, "subject"), values)
    body = substitute(overrides.get("body") or _default(kind, "body"), values)
    # A header never spans lines, whatever the substituted values contained.
    return " ".join(subject.split())[:200], body


def link_for(project: Project, kind: str, token: str) -> str:
    base = auth_settings(project).verify_url if kind == "verify" else auth_settings(project).reset_url
    if not base:
        return f"Your code: {token}"
    return base.replace("{token}", token) if "{token}" in base else f"{base}{'&' if '?' in base else '?'}token={token}"


def send_after_commit(project: Project, kind: str, to: str, token: str, expires_hours: int) -> None:
    values = {
        "project_name": project.name,
        "email": to,
        "token": token,
        "link": link_for(project, kind, token),
        "expires_hours": str(expires_hours),
    }
    _deliver_after_commit(project, kind, to, values)


def send_notice_after_commit(project: Project, kind: str, to: str) -> None:
    """A mail that carries no code (e.g. `registered`: someone signed up with this address)."""
    _deliver_after_commit(project, kind, to, {"project_name": project.name, "email": to})


def _deliver_after_commit(project: Project, kind: str, to: str, values: dict[str, str]) -> None:
    subject, body = render(project, kind, values)

    def deliver() -> None:
        # Tagged with the project, so the console's Outbox (basalt.logs) files it there.
        send_tagged(subject, body, settings.DEFAULT_FROM_EMAIL, [to], project.ref, kind)

    transaction.on_commit(deliver, robust=True)

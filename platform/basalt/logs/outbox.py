"""Read the outbox: mails Basalt recorded, a project's for those who manage its members, the
installation's own (console-account mails: sign-up confirmation, password resets) for its owners.

The mails carry working links (invitations, resets), so both readers are narrower than "may see
the project": a project's viewers and developers, and console accounts that do not own the
installation, are refused as if the list did not exist.
"""

from __future__ import annotations

from basalt.core.errors import NotFound
from basalt.logs.models import SentMail
from basalt.projects.roles import Perm
from basalt.projects.services import access_project

RECENT = 100


def project_mails(account, ref: str, limit: int = RECENT) -> list[SentMail]:
    project = access_project(account, ref, Perm.MANAGE_MEMBERS)
    return list(SentMail.objects.filter(project=project).order_by("-id")[:limit])


def install_mails(account, limit: int = RECENT) -> list[SentMail]:
    """Mails sent to console accounts, which belong to no project; install owners (superusers) only."""
    if not getattr(account, "is_superuser", False):
        raise NotFound("This page does not exist.")
    return list(SentMail.objects.filter(project__isnull=True).order_by("-id")[:limit])

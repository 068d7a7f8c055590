"""Plain-dict renderings of projects, keys and members for the management API."""

from __future__ import annotations

from typing import Any

from basalt.core.times import iso
from basalt.projects.models import ApiKey, Membership, Project


def project_out(project: Project, role: str | None = None) -> dict[str, Any]:
    body = {"ref": project.ref, "name": project.name, "created_at": iso(project.created_at)}
    if role:
        body["role"] = role
    return body


def key_out(key: ApiKey, raw: str | None = None) -> dict[str, Any]:
    body = {
        "id": key.id,
        "kind": key.kind,
        "name": key.name,
        "last4": key.last4,
        "created_at": iso(key.created_at),
        "revoked_at": iso(key.revoked_at),
    }
    if raw is not None:
        body["key"] = raw
    return body


def member_out(membership: Membership) -> dict[str, Any]:
    return {
        "id": membership.pk,
        "email": membership.account.email,
        "role": membership.role,
        "created_at": iso(membership.created_at),
    }


def invitation_out(invitation) -> dict[str, Any]:
    return {
        "id": invitation.pk,
        "email": invitation.email,
        "role": invitation.role,
        "status": invitation.status,
        "created_at": iso(invitation.created_at),
        "expires_at": iso(invitation.expires_at),
    }

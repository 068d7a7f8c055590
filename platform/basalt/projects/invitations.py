"""Invitations: a role on a project offered to an email address that may not have an account yet."""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from basalt.accounts.models import Account
from basalt.core.errors import Conflict, InvalidToken, NotFound, PermissionDenied, TokenExpired, ValidationFailed
from basalt.logs.mail import send_tagged
from basalt.projects.models import Invitation, Membership, Project
from basalt.projects.roles import Perm
from basalt.projects.services import (
    ProjectQuotaExceeded,
    _actor_role,
    _check_can_assign,
    _only_fields,
    _validate_role,
    access_project,
    join_project,
)

logger = logging.getLogger(__name__)

INVITATION_TTL = timedelta(days=7)
# Each invitation is an email to an address the inviter chooses: a project is not a mailing list.
PENDING_INVITATIONS_MAX = 50
TOKEN_PLACEHOLDER = "{token}"
_TOKEN_MAX = 100


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _validate_email(email: Any) -> str:
    if not isinstance(email, str) or not email.strip():
        raise ValidationFailed(details={"email": ["An email address is required."]})
    email = email.strip()
    if len(email) > 254:  # RFC 5321's limit, and the column's
        raise ValidationFailed(details={"email": ["At most 254 characters."]})
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(details={"email": ["Enter a valid email address."]}) from None
    return email


def _pending(project: Project):
    return project.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)


def invite_member_from_body(account: Account, ref: str, body: Any, accept_url: str) -> Invitation:
    """POST …/invitations and POST …/members: `{email, role}`.

    Adding a member is inviting them: the answer is the same whether or not the address has a
    console account (no enumeration), and nobody joins a project without accepting.
    """
    access_project(account, ref, Perm.MANAGE_MEMBERS)
    body = _only_fields(body, {"email", "role"})
    return invite_member(account, ref, body.get("email"), body.get("role"), accept_url=accept_url)


@transaction.atomic
def invite_member(account: Account, ref: str, email: Any, role: Any, *, accept_url: str) -> Invitation:
    """Store a hashed single-use token and email the link after commit.

    `accept_url` is an absolute URL containing `{token}`; the face builds it from its request.
    """
    project = access_project(account, ref, Perm.MANAGE_MEMBERS, lock=True)
    role = _validate_role(role)
    _check_can_assign(_actor_role(account, project), role)
    email = _validate_email(email)
    if Membership.objects.filter(project=project, account__email__iexact=email).exists():
        raise Conflict("This address already belongs to a member.")
    if _pending(project).filter(email__iexact=email, expires_at__gt=timezone.now()).exists():
        raise Conflict("An invitation to this address is pending; revoke it to send a new one.")
    live = _pending(project).filter(expires_at__gt=timezone.now())
    if live.count() >= PENDING_INVITATIONS_MAX:
        raise ProjectQuotaExceeded(
            f"This project already has {PENDING_INVITATIONS_MAX} pending invitations; revoke some or wait "
            "until they are accepted or expire.",
            details={"limit": PENDING_INVITATIONS_MAX},
        )
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        project=project,
        email=email,
        role=role,
        token_hash=hash_token(raw),
        invited_by=account,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    link = accept_url.replace(TOKEN_PLACEHOLDER, raw)
    # After commit: a rolled-back invitation must not leave a working-looking email behind.
    transaction.on_commit(lambda: _send(invitation, project.name, account.email, link))
    return invitation


def _send(invitation: Invitation, project_name: str, inviter: str, link: str) -> None:
    subject = f"You are invited to {project_name} on Basalt"
    body = (
        f"{inviter} invited you to the project “{project_name}” as {invitation.role}.\n\n"
        f"Accept the invitation (you can create an account on the way):\n{link}\n\n"
        f"The link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        "If you did not expect this email, ignore it.\n"
    )
    try:
        # Tagged with the project, so the console's Outbox (basalt.logs) files it there.
        send_tagged(subject, body, None, [invitation.email], invitation.project.ref, "invitation")
    except Exception:  # the row is committed; the admin can revoke and invite again
        logger.exception("could not send invitation %s", invitation.pk)


def list_invitations(account: Account, ref: str) -> list[Invitation]:
    """Invitations not yet accepted or revoked (expired ones included, marked by `status`)."""
    project = access_project(account, ref, Perm.VIEW)
    return list(_pending(project).select_related("invited_by").order_by("created_at", "id"))


def _invitation(project: Project, invitation_id: Any) -> Invitation:
    if not isinstance(invitation_id, str) or len(invitation_id) > 32:
        raise NotFound("Invitation not found.")
    invitation = project.invitations.filter(pk=invitation_id).first()
    if invitation is None:
        raise NotFound("Invitation not found.")
    return invitation


@transaction.atomic
def revoke_invitation(account: Account, ref: str, invitation_id: Any) -> Invitation:
    """Revoke at once; revoking twice changes nothing; only an owner revokes an owner invitation."""
    project = access_project(account, ref, Perm.MANAGE_MEMBERS, lock=True)
    invitation = _invitation(project, invitation_id)
    if invitation.role == "owner" and _actor_role(account, project) != "owner":
        raise PermissionDenied("Only an owner can revoke an invitation to the owner role.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation was already accepted; remove the member instead.")
    if invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
    return invitation


def _by_token(raw: Any, *, lock: bool = False) -> Invitation:
    if not isinstance(raw, str) or not raw or len(raw) > _TOKEN_MAX:
        raise InvalidToken("This invitation link is not valid.")
    rows = Invitation.objects.select_related("project")
    if lock:
        rows = rows.select_for_update(of=("self",))
    invitation = rows.filter(token_hash=hash_token(raw)).first()
    if invitation is None or invitation.revoked_at is not None:
        raise InvalidToken("This invitation link is not valid (it may have been revoked).")
    if invitation.accepted_at is not None:
        raise InvalidToken("This invitation link was already used.")
    if invitation.expires_at <= timezone.now():
        raise TokenExpired("This invitation link has expired; ask for a new one.")
    return invitation


def peek_invitation(raw: Any) -> Invitation:
    """The invitation a link stands for, if it can still be accepted (for the accept page)."""
    return _by_token(raw)


def accept_invitation_from_body(account: Account, body: Any) -> Membership:
    """POST /manage/invitations/accept: `{token}` (the console's accept button, for API clients)."""
    return accept_invitation(account, _only_fields(body, {"token"}).get("token"))


@transaction.atomic
def accept_invitation(account: Account, raw: Any) -> Membership:
    """Make the signed-in account a member with the invited role; the link then stops working.

    The account's email must be the invited one: the link proves the mailbox, not the person
    who happens to hold a forwarded copy.
    """
    invitation = _by_token(raw, lock=True)
    if not account.is_active or account.email.lower() != invitation.email.lower():
        raise PermissionDenied(
            f"This invitation was sent to {invitation.email}; sign in with that address to accept it."
        )
    project = Project.objects.select_for_update().get(pk=invitation.project_id)
    if Membership.objects.filter(project=project, account=account).exists():
        raise Conflict("You are already a member of this project.")
    membership = join_project(project, account, invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = account
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership

"""Project, key and member operations for console accounts; every check happens here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from basalt.accounts.models import Account
from basalt.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from basalt.projects.keys import hash_key, mint_key
from basalt.projects.models import ApiKey, Membership, Project
from basalt.projects.roles import ALL_PERMS, ROLE_PERMISSIONS, ROLES, Perm

PROJECT_NAME_MAX = 100


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    raw: str


def _perm_name(perm: Perm) -> str:
    return f"projects.{perm.value}"


def has_project_perm(account: Account, project: Project, perm: Perm) -> bool:
    return account.is_active and account.has_perm(_perm_name(perm), project)


def access_project(account: Account, ref: str, perm: Perm = Perm.VIEW) -> Project:
    """Return the project if the account may do `perm` on it; a non-member gets not_found."""
    project = Project.objects.filter(ref=ref, memberships__account=account).first() if isinstance(ref, str) else None
    if project is None or not has_project_perm(account, project, Perm.VIEW):
        raise NotFound("Project not found.")
    if not has_project_perm(account, project, perm):
        raise PermissionDenied(f"Your role on this project does not allow {perm.value.replace('_', ' ')}.")
    return project


def list_projects(account: Account) -> list[Project]:
    return list(Project.objects.filter(memberships__account=account).order_by("created_at", "id"))


def _validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(details={"name": ["A project needs a name."]})
    name = name.strip()
    if len(name) > PROJECT_NAME_MAX:
        raise ValidationFailed(details={"name": [f"At most {PROJECT_NAME_MAX} characters."]})
    return name


def _grant_role(membership: Membership) -> None:
    granted = ROLE_PERMISSIONS[membership.role]
    for perm in ALL_PERMS:
        if perm in granted:
            assign_perm(_perm_name(perm), membership.account, membership.project)
        else:
            remove_perm(_perm_name(perm), membership.account, membership.project)


def _revoke_all(account: Account, project: Project) -> None:
    for perm in ALL_PERMS:
        remove_perm(_perm_name(perm), account, project)


@transaction.atomic
def create_project(owner: Account, name: Any) -> Project:
    project = Project.objects.create(name=_validate_name(name))
    _grant_role(Membership.objects.create(project=project, account=owner, role="owner"))
    return project


@transaction.atomic
def rename_project(account: Account, ref: str, name: Any) -> Project:
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    project.name = _validate_name(name)
    project.save(update_fields=["name"])
    return project


@transaction.atomic
def delete_project(account: Account, ref: str, confirm_name: str | None = None) -> None:
    project = access_project(account, ref, Perm.DELETE_PROJECT)
    if confirm_name is not None and confirm_name != project.name:
        raise ValidationFailed(details={"name": ["Type the project's name to confirm deletion."]})
    project.delete()


# --- keys ------------------------------------------------------------------------------------


def create_key(account: Account | None, project: Project, kind: Any, name: Any = "") -> NewKey:
    if kind not in (ApiKey.PUBLISHABLE, ApiKey.SECRET):
        raise ValidationFailed(details={"kind": ["Must be 'publishable' or 'secret'."]})
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name) > 100:
        raise ValidationFailed(details={"name": ["Must be a string of at most 100 characters."]})
    raw = mint_key(kind)
    key = ApiKey.objects.create(
        project=project, kind=kind, name=name.strip(), key_hash=hash_key(raw), last4=raw[-4:], created_by=account
    )
    return NewKey(key=key, raw=raw)


def create_key_for(account: Account, ref: str, kind: Any, name: Any = "") -> NewKey:
    project = access_project(account, ref, Perm.MANAGE_KEYS)
    return create_key(account, project, kind, name)


def list_keys(account: Account, ref: str) -> list[ApiKey]:
    project = access_project(account, ref, Perm.VIEW)
    return list(project.keys.order_by("created_at", "id"))


def revoke_key(account: Account, ref: str, key_id: str) -> ApiKey:
    project = access_project(account, ref, Perm.MANAGE_KEYS)
    key = project.keys.filter(id=key_id).first() if isinstance(key_id, str) else None
    if key is None:
        raise NotFound("Key not found.")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


# --- members ---------------------------------------------------------------------------------


def list_members(account: Account, ref: str) -> list[Membership]:
    project = access_project(account, ref, Perm.VIEW)
    return list(project.memberships.select_related("account").order_by("created_at", "id"))


def _validate_role(role: Any) -> str:
    if role not in ROLES:
        raise ValidationFailed(details={"role": [f"Must be one of {', '.join(ROLES)}."]})
    return role


def _actor_role(account: Account, project: Project) -> str:
    return Membership.objects.get(project=project, account=account).role


def _check_can_assign(actor_role: str, role: str) -> None:
    """Admins manage members up to admin; only an owner can make (or unmake) an owner."""
    if role == "owner" and actor_role != "owner":
        raise PermissionDenied("Only an owner can grant the owner role.")


@transaction.atomic
def add_member(account: Account, ref: str, email: Any, role: Any) -> Membership:
    project = access_project(account, ref, Perm.MANAGE_MEMBERS)
    role = _validate_role(role)
    _check_can_assign(_actor_role(account, project), role)
    if not isinstance(email, str) or not email.strip():
        raise ValidationFailed(details={"email": ["An email address is required."]})
    invitee = Account.objects.filter(email__iexact=email.strip()).first()
    if invitee is None:
        raise ValidationFailed(details={"email": ["No console account uses this address; ask them to sign up first."]})
    if Membership.objects.filter(project=project, account=invitee).exists():
        raise Conflict("This account is already a member.")
    membership = Membership.objects.create(project=project, account=invitee, role=role)
    _grant_role(membership)
    return membership


def _member(project: Project, member_id: Any) -> Membership:
    try:
        member_pk = int(member_id)
    except (TypeError, ValueError):
        raise NotFound("Member not found.") from None
    membership = project.memberships.select_related("account").filter(pk=member_pk).first()
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def _ensure_owner_remains(project: Project, leaving: Membership) -> None:
    if leaving.role == "owner" and project.memberships.filter(role="owner").count() <= 1:
        raise Conflict("A project must keep at least one owner; transfer ownership first.")


@transaction.atomic
def change_member_role(account: Account, ref: str, member_id: Any, role: Any) -> Membership:
    project = access_project(account, ref, Perm.MANAGE_MEMBERS)
    role = _validate_role(role)
    membership = _member(project, member_id)
    actor_role = _actor_role(account, project)
    _check_can_assign(actor_role, role)
    if membership.role == "owner" and actor_role != "owner":
        raise PermissionDenied("Only an owner can change an owner's role.")
    if role != "owner":
        _ensure_owner_remains(project, membership)
    membership.role = role
    membership.save(update_fields=["role"])
    _grant_role(membership)
    return membership


@transaction.atomic
def remove_member(account: Account, ref: str, member_id: Any) -> None:
    project = access_project(account, ref, Perm.VIEW)
    membership = _member(project, member_id)
    leaving_self = membership.account_id == account.pk
    if not leaving_self and not has_project_perm(account, project, Perm.MANAGE_MEMBERS):
        raise PermissionDenied("Your role on this project does not allow manage members.")
    if membership.role == "owner" and not leaving_self and _actor_role(account, project) != "owner":
        raise PermissionDenied("Only an owner can remove an owner.")
    _ensure_owner_remains(project, membership)
    _revoke_all(membership.account, project)
    membership.delete()




# --- settings --------------------------------------------------------------------------------


def get_project_settings(account: Account, ref: str) -> dict[str, Any]:
    from basalt.projects.project_settings import effective_settings

    return effective_settings(access_project(account, ref, Perm.VIEW))


def change_project_settings(account: Account, ref: str, changes: Any) -> dict[str, Any]:
    from basalt.projects.project_settings import update_settings

    return update_settings(access_project(account, ref, Perm.MANAGE_SETTINGS), changes)

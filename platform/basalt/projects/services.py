"""Project, key and member operations for console accounts; every check happens here."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from guardian.models import UserObjectPermission
from guardian.shortcuts import assign_perm, get_user_perms, remove_perm

from basalt.accounts.models import Account
from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, Conflict, NotFound, PermissionDenied, ValidationFailed, body_object
from basalt.projects.keys import hash_key, mint_key
from basalt.projects.models import ApiKey, Membership, Project
from basalt.projects.roles import ALL_PERMS, ROLE_PERMISSIONS, ROLES, Perm

PROJECT_NAME_MAX = 100
KEY_NAME_MAX = 100


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    raw: str


def _perm_name(perm: Perm) -> str:
    return f"projects.{perm.value}"


def project_perms(account: Account, project: Project) -> frozenset[str]:
    """The account's object permissions on the project, as granted by its membership role.

    Read from guardian's rows directly (not `has_perm`) so a Django superuser flag grants nothing
    here: on a project, only the role counts.
    """
    if not account.is_active:
        return frozenset()
    return frozenset(get_user_perms(account, project))


def has_project_perm(account: Account, project: Project, perm: Perm) -> bool:
    return perm.value in project_perms(account, project)


# Extra conditions other areas put on every project access, e.g. identity's "owners require an
# authenticator app of members" (basalt.identity.console_mfa.enforce); each raises to refuse.
ACCESS_CHECKS: list = []


def access_project(account: Account, ref: str, perm: Perm = Perm.VIEW, *, lock: bool = False) -> Project:
    """Return the project if the account may do `perm` on it; a non-member gets not_found.

    `lock` takes the project row's lock (inside the caller's transaction) so membership checks
    such as "an owner remains" cannot race.
    """
    if not isinstance(ref, str) or not ref or len(ref) > 32:
        raise NotFound("Project not found.")
    projects = Project.objects.filter(ref=ref, memberships__account=account)
    if lock:
        projects = projects.select_for_update(of=("self",))
    project = projects.first()
    granted = project_perms(account, project) if project is not None else frozenset()
    if project is None or Perm.VIEW.value not in granted:
        raise NotFound("Project not found.")
    if perm.value not in granted:
        raise PermissionDenied(f"Your role on this project does not allow {perm.value.replace('_', ' ')}.")
    for check in ACCESS_CHECKS:
        check(account, project)
    return project


def member_caller(account: Account, ref: str, perm: Perm = Perm.VIEW) -> Caller:
    """The Caller a console member acts as on a project's data, once their role allows `perm`.

    Members act like the secret key (Parse's dashboard uses the master key the same way), under a
    key id naming the account (`console:<id>`): what they start (signed URLs, live streams) ends
    when the account or its membership does. A non-member gets not_found, as `access_project`."""
    project = access_project(account, ref, perm)
    return Caller(project=project, key_kind="secret", key_id=f"console:{account.pk}")


def project_role(account: Account, project: Project) -> str | None:
    return Membership.objects.filter(project=project, account=account).values_list("role", flat=True).first()


def get_project(account: Account, ref: str) -> tuple[Project, str]:
    """The project and the account's role on it (viewers and up)."""
    project = access_project(account, ref, Perm.VIEW)
    return project, project_role(account, project) or ""


def list_projects(account: Account) -> list[Project]:
    return [project for project, _role in list_projects_with_roles(account)]


def list_projects_with_roles(account: Account) -> list[tuple[Project, str]]:
    """Every project the account is a member of, with its role, oldest first."""
    memberships = Membership.objects.filter(account=account).select_related("project")
    return [(m.project, m.role) for m in memberships.order_by("project__created_at", "project__id")]


def _has_control_chars(text: str) -> bool:
    # Names are shown in the console and in logs; NUL cannot even be stored by PostgreSQL.
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in text)


def _validate_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed(details={"name": ["A project needs a name."]})
    name = name.strip()
    if len(name) > PROJECT_NAME_MAX:
        raise ValidationFailed(details={"name": [f"At most {PROJECT_NAME_MAX} characters."]})
    if _has_control_chars(name):
        raise ValidationFailed(details={"name": ["Control characters are not allowed."]})
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


def create_project_from_body(owner: Account, body: Any) -> Project:
    """POST /manage/projects: `{name}`; the caller becomes its owner."""
    return create_project(owner, _only_fields(body, {"name"}).get("name"))


class ProjectQuotaExceeded(BasaltError):
    status = 429
    code = "quota_exceeded"


@transaction.atomic
def create_project(owner: Account, name: Any) -> Project:
    name = _validate_name(name)
    _check_project_quota(owner)
    project = Project.objects.create(name=name)
    join_project(project, owner, "owner")
    _create_builtin_collections(project)
    return project


def _check_project_quota(owner: Account) -> None:
    """At most CONSOLE_PROJECTS_PER_ACCOUNT owned projects (0: no cap), also under concurrent creations."""
    cap = settings.CONSOLE_PROJECTS_PER_ACCOUNT
    if cap <= 0:
        return
    # The account row's lock serialises this account's creations, so two at once cannot both fit.
    Account.objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True).first()
    if Membership.objects.filter(account=owner, role="owner").count() >= cap:
        raise ProjectQuotaExceeded(
            f"This account already owns {cap} projects, the most this installation allows; "
            "delete one or ask the operator to raise CONSOLE_PROJECTS_PER_ACCOUNT.",
            details={"limit": cap},
        )


# Higher areas (push: `installations`) contribute built-in collections here from their AppConfig.ready.
BUILTIN_COLLECTIONS: list = []


def _create_builtin_collections(project: Project) -> None:
    """`users` and `roles` (and contributed ones) exist from the start, so schema and console show them."""
    # Imported here: identity and documents import this area's models, so a module-level import cycles.
    from basalt.identity.builtin import users_collection
    from basalt.identity.builtin_roles import roles_collection

    users_collection(project)
    roles_collection(project)
    for create in BUILTIN_COLLECTIONS:
        create(project)
    project.refresh_from_db(fields=["schema_version"])  # the catalog bumped it on a locked copy


@transaction.atomic
def rename_project(account: Account, ref: str, name: Any) -> Project:
    project = access_project(account, ref, Perm.MANAGE_SETTINGS)
    project.name = _validate_name(name)
    project.save(update_fields=["name"])
    return project


@transaction.atomic
def update_project(account: Account, ref: str, changes: Any) -> tuple[Project, str]:
    """Apply a PATCH of `name` and/or `settings` all or nothing."""
    from basalt.projects.project_settings import update_settings

    project = access_project(account, ref, Perm.MANAGE_SETTINGS, lock=True)
    changes = _only_fields(changes, {"name", "settings"})
    if "name" in changes:
        project.name = _validate_name(changes["name"])
        project.save(update_fields=["name"])
    if "settings" in changes:
        # Raises before anything is committed; the atomic block undoes a rename done above.
        update_settings(project, changes["settings"])
        project.refresh_from_db()
    return project, project_role(account, project) or ""


@transaction.atomic
def delete_project(account: Account, ref: str, confirm_name: str | None = None) -> None:
    project = access_project(account, ref, Perm.DELETE_PROJECT, lock=True)
    if confirm_name is not None and confirm_name != project.name:
        raise ValidationFailed(details={"name": ["Type the project's name to confirm deletion."]})
    # Guardian's rows point at the project generically, so they do not cascade with it.
    UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Project), object_pk=str(project.pk)
    ).delete()
    project.delete()


def _only_fields(body: Any, allowed: set[str]) -> dict[str, Any]:
    """Refuse a body that is not an object or names fields this operation does not know."""
    body_object(body)
    unknown = sorted(str(name) for name in body if name not in allowed)
    if unknown:
        raise ValidationFailed(details={name[:100]: ["Unknown field."] for name in unknown[:20]})
    return body


# --- keys ------------------------------------------------------------------------------------


def create_key(account: Account | None, project: Project, kind: Any, name: Any = "") -> NewKey:
    if kind not in (ApiKey.PUBLISHABLE, ApiKey.SECRET):
        raise ValidationFailed(details={"kind": ["Must be 'publishable' or 'secret'."]})
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name) > KEY_NAME_MAX or _has_control_chars(name):
        raise ValidationFailed(
            details={"name": [f"Must be a string of at most {KEY_NAME_MAX} characters, without control characters."]}
        )
    raw = mint_key(kind)
    key = ApiKey.objects.create(
        project=project, kind=kind, name=name.strip(), key_hash=hash_key(raw), last4=raw[-4:], created_by=account
    )
    return NewKey(key=key, raw=raw)


def create_key_for(account: Account, ref: str, kind: Any, name: Any = "") -> NewKey:
    project = access_project(account, ref, Perm.MANAGE_KEYS)
    return create_key(account, project, kind, name)


def create_key_from_body(account: Account, ref: str, body: Any) -> NewKey:
    """POST …/keys: `{kind, name?}`; the raw key is returned once and never stored."""
    project = access_project(account, ref, Perm.MANAGE_KEYS)
    body = _only_fields(body, {"kind", "name"})
    return create_key(account, project, body.get("kind"), body.get("name", ""))


def list_keys(account: Account, ref: str) -> list[ApiKey]:
    project = access_project(account, ref, Perm.VIEW)
    return list(project.keys.order_by("created_at", "id"))


def revoke_key(account: Account, ref: str, key_id: str) -> ApiKey:
    """Revoke at once (the next request with it is refused); revoking twice changes nothing."""
    project = access_project(account, ref, Perm.MANAGE_KEYS)
    key = project.keys.filter(id=key_id).first() if isinstance(key_id, str) and len(key_id) <= 32 else None
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
    if not isinstance(role, str) or role not in ROLES:
        raise ValidationFailed(details={"role": [f"Must be one of {', '.join(ROLES)}."]})
    return role


def _actor_role(account: Account, project: Project) -> str:
    return Membership.objects.get(project=project, account=account).role


def _check_can_assign(actor_role: str, role: str) -> None:
    """Admins manage members up to admin; only an owner can make (or unmake) an owner."""
    if role == "owner" and actor_role != "owner":
        raise PermissionDenied("Only an owner can grant the owner role.")


def change_member_from_body(account: Account, ref: str, member_id: Any, body: Any) -> Membership:
    """PATCH …/members/{id}: `{role}`."""
    access_project(account, ref, Perm.MANAGE_MEMBERS)
    body = _only_fields(body, {"role"})
    return change_member_role(account, ref, member_id, body.get("role"))


def join_project(project: Project, account: Account, role: str) -> Membership:
    """Make the account a member with `role`: the one place memberships are created.

    Callers have the account's consent: its own project creation, or an invitation it accepted.
    Nobody is added by someone else's say-so (an admin's "add member" sends an invitation).
    """
    membership = Membership.objects.create(project=project, account=account, role=role)
    _grant_role(membership)
    return membership


def _member(project: Project, member_id: Any) -> Membership:
    # Digits only and within bigint: int() would also accept " 7", "+7" and "٧".
    if not isinstance(member_id, str) or not member_id.isascii() or not member_id.isdigit() or len(member_id) > 18:
        raise NotFound("Member not found.")
    member_pk = int(member_id)
    membership = project.memberships.select_related("account").filter(pk=member_pk).first()
    if membership is None:
        raise NotFound("Member not found.")
    return membership


def _ensure_owner_remains(project: Project, leaving: Membership) -> None:
    if leaving.role == "owner" and project.memberships.filter(role="owner").count() <= 1:
        raise Conflict("A project must keep at least one owner; transfer ownership first.")


@transaction.atomic
def change_member_role(account: Account, ref: str, member_id: Any, role: Any) -> Membership:
    project = access_project(account, ref, Perm.MANAGE_MEMBERS, lock=True)
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
    project = access_project(account, ref, Perm.VIEW, lock=True)
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
    from basalt.projects.project_settings import displayed_settings

    return displayed_settings(access_project(account, ref, Perm.VIEW))


@transaction.atomic
def change_project_settings(account: Account, ref: str, changes: Any) -> dict[str, Any]:
    from basalt.projects.project_settings import update_settings

    return update_settings(access_project(account, ref, Perm.MANAGE_SETTINGS, lock=True), changes)

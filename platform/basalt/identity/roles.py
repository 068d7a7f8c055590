"""Roles: users and child roles, inheritance to any depth (no cycles), membership guarded by ACL.

Semantics follow Parse: role R's `roles` lists the roles whose members inherit R. A user holds R
when they are in R's `users`, or hold any role listed in R's `roles`. So putting `admins` in
`moderators.roles` makes every admin a moderator, not the other way round.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from basalt.identity import builtin_roles, events
from basalt.identity.models import EndUser, Role, RoleInheritance, RoleMember
from basalt.projects.models import Project

ROLE_NAME = re.compile(r"\A[a-z][a-z0-9_-]{0,62}\Z")
USER_ID = re.compile(r"\A[a-z0-9]{1,32}\Z")
ROLE_NAME_RULE = "Use 1 to 63 lowercase letters, digits, _ or -, starting with a letter (e.g. editors)."
MAX_IDS_PER_CALL = 1000
MAX_HELD_ROLES = 1000

# Table names come from model metadata; every value is a query parameter.
_HELD_SQL = f"""
WITH RECURSIVE held(id) AS (
    SELECT m.role_id FROM {RoleMember._meta.db_table} m WHERE m.user_id = %s
    UNION
    SELECT e.parent_id FROM {RoleInheritance._meta.db_table} e JOIN held h ON e.child_id = h.id
)
SELECT r.name FROM {Role._meta.db_table} r JOIN held ON r.id = held.id WHERE r.project_id = %s
LIMIT {MAX_HELD_ROLES}
"""  # noqa: S608
# Roles that `start` inherits (itself included): the set a new edge must not point back into.
_ANCESTORS_SQL = f"""
WITH RECURSIVE up(id) AS (
    SELECT r.id FROM {Role._meta.db_table} r WHERE r.id = %s
    UNION
    SELECT e.parent_id FROM {RoleInheritance._meta.db_table} e JOIN up ON e.child_id = up.id
)
SELECT id FROM up
"""  # noqa: S608


def held_roles(project: Project, user_id: str) -> frozenset[str]:
    """Every role the user holds, directly or inherited, in one recursive query (UNION stops loops)."""
    with connection.cursor() as cursor:
        cursor.execute(_HELD_SQL, [user_id, project.pk])
        return frozenset(row[0] for row in cursor.fetchall())


def _ancestors(role_id: int) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(_ANCESTORS_SQL, [role_id])
        return {row[0] for row in cursor.fetchall()}


def validate_acl(acl: Any) -> dict[str, dict[str, bool]]:
    """The document ACL format: principal → {read?, write?} with boolean values."""
    if not isinstance(acl, dict):
        raise ValidationFailed(details={"acl": ["Must be an object."]})
    if len(acl) > 100:
        raise ValidationFailed(details={"acl": ["At most 100 entries."]})
    clean: dict[str, dict[str, bool]] = {}
    for principal, rights in acl.items():
        valid_name = (
            principal in ("*", "authenticated")
            or USER_ID.match(principal)
            or (principal.startswith("role:") and ROLE_NAME.match(principal[5:]))
        )
        if not valid_name:
            raise ValidationFailed(details={"acl": [f"Unknown principal {principal[:80]!r}."]})
        if (
            not isinstance(rights, dict)
            or set(rights) - {"read", "write"}
            or not all(isinstance(v, bool) for v in rights.values())
        ):
            raise ValidationFailed(details={"acl": ['Each entry is {"read": bool, "write": bool}.']})
        clean[principal] = {k: v for k, v in rights.items() if v}
    return clean


def _can(caller: Caller, role: Role, right: str) -> bool:
    if caller.is_secret:
        return True
    return any(role.acl.get(p, {}).get(right) for p in caller.principals)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not ROLE_NAME.match(value):
        raise ValidationFailed(details={"name": [ROLE_NAME_RULE]})
    return value


def _load(caller: Caller, name: Any, *, for_update: bool = False) -> Role:
    """A role the caller may read (else 404, existence is not leaked)."""
    if not isinstance(name, str) or not ROLE_NAME.match(name):
        raise NotFound()
    queryset = Role.objects.filter(project=caller.project, name=name)
    if for_update:
        queryset = queryset.select_for_update()
    role = queryset.first()
    if role is None or not (_can(caller, role, "read") or _can(caller, role, "write")):
        raise NotFound()
    return role


def _require_secret(caller: Caller) -> None:
    if not caller.is_secret:
        raise PermissionDenied("Roles are created, renamed and deleted with the secret key.")


def _require_write(caller: Caller, role: Role) -> None:
    if not _can(caller, role, "write"):
        raise PermissionDenied("You may not change this role's membership.")


def _ids(value: Any, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or len(value) > MAX_IDS_PER_CALL:
        raise ValidationFailed(details={field: [f"Must be a list of at most {MAX_IDS_PER_CALL} strings."]})
    return list(dict.fromkeys(value))


def role_out(role: Role) -> dict[str, Any]:
    from basalt.core.times import iso

    return {
        "id": role.doc_id,
        "name": role.name,
        "acl": role.acl,
        "created_at": iso(role.created_at),
        "updated_at": iso(role.updated_at),
    }


def list_roles(caller: Caller) -> list[dict[str, Any]]:
    _require_secret(caller)
    return [role_out(r) for r in Role.objects.filter(project=caller.project).order_by("name")[:1000]]


def get_role(caller: Caller, name: Any) -> dict[str, Any]:
    """The role with its members, for callers with `read` (write-only ACL entries see nothing)."""
    role = _load(caller, name)
    if not _can(caller, role, "read"):
        raise NotFound()
    return _full(role)


def _after_write(caller: Caller, role: Role) -> dict[str, Any] | None:
    """A membership write answers with the role only to callers who may read it (else no body)."""
    return _full(role) if _can(caller, role, "read") else None


def _full(role: Role) -> dict[str, Any]:
    body = role_out(role)
    body["users"] = list(
        RoleMember.objects.filter(role=role).order_by("user_id").values_list("user_id", flat=True)[:1000]
    )
    body["roles"] = list(
        Role.objects.filter(pk__in=RoleInheritance.objects.filter(parent=role).values("child_id"))
        .order_by("name")
        .values_list("name", flat=True)[:1000]
    )
    return body


@transaction.atomic
def create_role(caller: Caller, body: Any) -> dict[str, Any]:
    _require_secret(caller)
    if not isinstance(body, dict):
        raise ValidationFailed(details={"body": ["Must be an object."]})
    unknown = set(body) - {"name", "acl", "users", "roles"}
    if unknown:
        raise ValidationFailed(details={name: ["Unknown or read-only field."] for name in sorted(unknown)[:20]})
    name = _name(body.get("name"))
    acl = validate_acl(body.get("acl", {}))
    _lock_graph(caller.project)
    if Role.objects.filter(project=caller.project, name=name).exists():
        raise Conflict(code="unique_violation", message="A role with this name exists.", details={"name": ["taken"]})
    role = Role.objects.create(project=caller.project, name=name, acl=acl)
    builtin_roles.sync_role(role)
    if "users" in body:
        _add_users(caller, role, _ids(body["users"], "users"))
    if "roles" in body:
        _add_children(caller, role, _ids(body["roles"], "roles"))
    return get_role(caller, name)


@transaction.atomic
def update_role(caller: Caller, name: Any, body: Any) -> dict[str, Any]:
    _require_secret(caller)
    role = _load(caller, name, for_update=True)
    if not isinstance(body, dict) or set(body) - {"name", "acl"}:
        raise ValidationFailed(details={"body": ["Only 'name' and 'acl' can be changed here."]})
    if "name" in body:
        new_name = _name(body["name"])
        if new_name != role.name and Role.objects.filter(project=caller.project, name=new_name).exists():
            raise Conflict(
                code="unique_violation", message="A role with this name exists.", details={"name": ["taken"]}
            )
        role.name = new_name
    if "acl" in body:
        role.acl = validate_acl(body["acl"])
    role.updated_at = timezone.now()
    role.save(update_fields=["name", "acl", "updated_at"])
    builtin_roles.sync_role(role)
    events.publish_on_commit(events.RolesChanged(role.project_id))
    return get_role(caller, role.name)


@transaction.atomic
def delete_role(caller: Caller, name: Any) -> None:
    _require_secret(caller)
    role = _load(caller, name, for_update=True)
    builtin_roles.delete_role(role)
    role.delete()
    events.publish_on_commit(events.RolesChanged(role.project_id))


@transaction.atomic
def add_users(caller: Caller, name: Any, ids: Any) -> dict[str, Any] | None:
    role = _load(caller, name, for_update=True)
    _require_write(caller, role)
    _add_users(caller, role, _ids(ids, "ids"))
    return _after_write(caller, role)


@transaction.atomic
def remove_user(caller: Caller, name: Any, user_id: Any) -> None:
    role = _load(caller, name, for_update=True)
    _require_write(caller, role)
    valid = isinstance(user_id, str) and USER_ID.match(user_id)
    deleted, _ = RoleMember.objects.filter(role=role, user_id=user_id if valid else "").delete()
    if not deleted:
        raise NotFound("This user is not a member of the role.")
    builtin_roles.remove_user_edge(role, user_id)
    events.publish_on_commit(events.RolesChanged(role.project_id))
    Role.objects.filter(pk=role.pk).update(updated_at=timezone.now())


@transaction.atomic
def add_roles(caller: Caller, name: Any, names: Any) -> dict[str, Any] | None:
    role = _load(caller, name, for_update=True)
    _require_write(caller, role)
    _lock_graph(caller.project)
    _add_children(caller, role, _ids(names, "names"))
    return _after_write(caller, role)


@transaction.atomic
def remove_role(caller: Caller, name: Any, child: Any) -> None:
    role = _load(caller, name, for_update=True)
    _require_write(caller, role)
    child_name = child if isinstance(child, str) else ""
    edge = RoleInheritance.objects.filter(parent=role, child__project=caller.project, child__name=child_name)
    child_role = Role.objects.filter(pk__in=edge.values("child_id")).first()
    if child_role is None:
        raise NotFound("This role is not listed in the role's roles.")
    edge.delete()
    builtin_roles.remove_role_edge(role, child_role.doc_id)
    events.publish_on_commit(events.RolesChanged(role.project_id))


def _lock_graph(project: Project) -> None:
    """Serialise role-graph writes per project so two concurrent edges cannot close a loop."""
    Project.objects.select_for_update().filter(pk=project.pk).first()


def _add_users(caller: Caller, role: Role, ids: list[str]) -> None:
    well_formed = [i for i in ids if USER_ID.match(i)]  # also keeps NUL bytes away from PostgreSQL
    found = set(EndUser.objects.filter(project=caller.project, pk__in=well_formed).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(details={"users": [f"Unknown user {missing[0][:40]!r}."]})
    existing = set(RoleMember.objects.filter(role=role, user_id__in=well_formed).values_list("user_id", flat=True))
    RoleMember.objects.bulk_create([RoleMember(role=role, user_id=i) for i in ids if i not in existing])
    builtin_roles.add_user_edges(role, ids)
    events.publish_on_commit(events.RolesChanged(role.project_id))
    Role.objects.filter(pk=role.pk).update(updated_at=timezone.now())


def _add_children(caller: Caller, role: Role, names: list[str]) -> None:
    children = {
        r.name: r
        for r in Role.objects.filter(project=caller.project, name__in=[n for n in names if ROLE_NAME.match(n)])
        if _can(caller, r, "read") or _can(caller, r, "write")  # an unreadable role is as unknown
    }
    missing = [n for n in names if n not in children]
    if missing:
        raise ValidationFailed(details={"roles": [f"Unknown role {missing[0][:63]!r}."]})
    ancestors = _ancestors(role.pk)
    for child in children.values():
        if child.pk in ancestors:
            raise ValidationFailed(
                details={"roles": [f"Adding {child.name!r} would make a loop: {role.name!r} already inherits it."]}
            )
    existing = set(RoleInheritance.objects.filter(parent=role).values_list("child_id", flat=True))
    RoleInheritance.objects.bulk_create(
        [RoleInheritance(parent=role, child=c) for c in children.values() if c.pk not in existing]
    )
    builtin_roles.add_role_edges(role, list(children.values()))
    events.publish_on_commit(events.RolesChanged(role.project_id))
    Role.objects.filter(pk=role.pk).update(updated_at=timezone.now())

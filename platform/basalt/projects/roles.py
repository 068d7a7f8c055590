"""Console roles on a project and the object permissions each one grants (API.md §8)."""

from enum import StrEnum


class Perm(StrEnum):
    VIEW = "view_project"
    CHANGE_SCHEMA = "change_schema"
    CHANGE_DATA = "change_data"
    MANAGE_KEYS = "manage_keys"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_MEMBERS = "manage_members"
    DELETE_PROJECT = "delete_project"
    TRANSFER_PROJECT = "transfer_project"


ROLES = ("viewer", "developer", "admin", "owner")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}

_VIEWER = {Perm.VIEW}
_DEVELOPER = _VIEWER | {Perm.CHANGE_SCHEMA, Perm.CHANGE_DATA}
_ADMIN = _DEVELOPER | {Perm.MANAGE_KEYS, Perm.MANAGE_SETTINGS, Perm.MANAGE_MEMBERS}
_OWNER = _ADMIN | {Perm.DELETE_PROJECT, Perm.TRANSFER_PROJECT}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    "viewer": frozenset(_VIEWER),
    "developer": frozenset(_DEVELOPER),
    "admin": frozenset(_ADMIN),
    "owner": frozenset(_OWNER),
}
ALL_PERMS = tuple(Perm)

"""Who may upload, read and change files: the documents' ACL rules applied to file rows."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet

from basalt.core.caller import Caller
from basalt.core.errors import NotFound, PermissionDenied
from basalt.documents.access import acl_principals, can_read, can_write, default_acl, validate_acl
from basalt.documents.query.dialects import sqlite_holds_principal
from basalt.files.config import FilesConfig
from basalt.files.models import File

__all__ = ["acl_principals", "validate_acl", "initial_acl", "may_upload", "access_file", "readable"]


def may_upload(caller: Caller, config: FilesConfig) -> None:
    if caller.is_secret:
        return
    allowed = config.upload
    if "*" in allowed or (caller.user_id and "authenticated" in allowed):
        return
    if any(p.startswith("role:") and p[5:] in caller.roles for p in allowed):
        return
    raise PermissionDenied("This project does not let you upload files.")


def initial_acl(caller: Caller, config: FilesConfig, raw: Any = None) -> dict[str, dict[str, bool]]:
    return validate_acl(raw) if raw is not None else default_acl(config.default_acl, caller)


def access_file(caller: Caller, file_id: str, *, write: bool = False, lock: bool = False) -> File:
    """The caller's project's ready file; 404 when absent, foreign or unreadable, 403 when read-only."""
    if not isinstance(file_id, str) or len(file_id) > 32:
        raise NotFound()
    rows = File.objects.filter(pk=file_id, project_id=caller.project.pk, status=File.READY)
    if lock:
        rows = rows.select_for_update()
    row = rows.first()
    if row is None or not can_read(caller, row.read_principals):
        raise NotFound()
    if write and not can_write(caller, row.write_principals):
        raise PermissionDenied("You may read this file but not change it.")
    return row


def readable(caller: Caller, rows: QuerySet[File]) -> QuerySet[File]:
    """Filter by the read ACL in SQL, so pages are full (jsonb `?|` on PostgreSQL, as documents on SQLite)."""
    if caller.is_secret:
        return rows
    table = File._meta.db_table
    if connection.vendor == "postgresql":
        # Only our table name and placeholders are formatted in; principals are parameters.
        return rows.extra(where=[f'"{table}"."read_principals" ?| %s'], params=[sorted(caller.principals)])  # noqa: S610
    sql, params = sqlite_holds_principal(f'"{table}"."read_principals"', caller.principals)
    return rows.extra(where=[sql], params=params)  # noqa: S610

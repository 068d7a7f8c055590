"""Export a project into one archive (basalt.operations.archive), streamed in keyset pages.

Memory stays bounded whatever the project's size: rows are read a page at a time in index order
(documents per collection by (created_at, id), the `doc_coll_created` index) and written into
JSONL entries of at most CHUNK_ROWS rows; file bytes stream from storage into the archive.
Secrets never leave: API keys, sessions, signing keys, webhook and job secrets are not exported,
and any settings entry holding a credential (push providers, sign-in provider secrets) is left
out whole and named in the manifest so the importer knows to configure it again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from basalt.documents.models import Collection, Relation
from basalt.files.models import File
from basalt.files.storage import get_storage
from basalt.identity.models import EndUser, LinkedIdentity, Role, RoleInheritance, RoleMember
from basalt.operations import archive, user_factors
from basalt.projects.models import Project

PAGE = 2000
# Documents per keyset page on SQLite (PostgreSQL streams each collection with one COPY).
DOCUMENT_PAGE = 10_000
Progress = Callable[[str, int], None]
# A settings entry holding any of these keys is a credential: the entry is left out of exports whole.
_SECRET_KEY = re.compile(r"secret|sealed|encrypted|private|password$|credential", re.I)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def scrub_settings(value: Any, path: str = "", dropped: list[str] | None = None) -> Any:
    """The settings without any object that holds a secret; the dropped paths are appended to `dropped`."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        where = f"{path}.{key}" if path else str(key)
        if _SECRET_KEY.search(str(key)) and not isinstance(item, bool | int):
            if dropped is not None:
                dropped.append(path or str(key))
            return None  # the object holding a secret goes whole
        cleaned = scrub_settings(item, where, dropped) if isinstance(item, dict) else item
        if cleaned is None and isinstance(item, dict):
            continue
        out[key] = cleaned
    return out


def _pages(rows, order: tuple[str, ...], fields: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for batch in _batches(rows, order, fields):
        yield from batch


def _batches(rows, order: tuple[str, ...], fields: tuple[str, ...]) -> Iterator[list[dict[str, Any]]]:
    """Keyset pages over `rows` in `order` (the last field unique), PAGE rows per query."""
    last: dict[str, Any] | None = None
    while True:
        page = rows
        if last is not None:
            if len(order) == 1:
                page = page.filter(**{f"{order[0]}__gt": last[order[0]]})
            else:
                first, second = order
                page = page.filter(
                    Q(**{f"{first}__gt": last[first]}) | Q(**{first: last[first], f"{second}__gt": last[second]})
                )
        batch = list(page.order_by(*order).values(*fields)[:PAGE])
        if not batch:
            return
        yield batch
        last = batch[-1]


def _stored_time(value: Any) -> str:
    """A stored time as ISO 8601 with its offset."""
    if isinstance(value, datetime):
        # SQLite's driver hands back naive UTC datetimes (Django stores UTC there).
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()
    return str(value).replace(" ", "T") + "+00:00"


# A document's archive line is built by the database: the JSON columns go out as stored, with no
# parse, re-encode or datetime round trip per document in Python (that was nearly all of an
# export's time). The keys and values are the same as the importer reads.
_PG_LINE = (
    "SELECT '{\"c\":' || %s || ',\"id\":' || to_json(id)::text || ',\"data\":' || data::text"
    " || ',\"acl\":' || acl::text || ',\"read_principals\":' || read_principals::text"
    " || ',\"write_principals\":' || write_principals::text"
    " || ',\"created_by\":' || COALESCE(to_json(created_by)::text, 'null')"
    " || ',\"created_at\":' || to_json(created_at)::text || ',\"updated_at\":' || to_json(updated_at)::text"
    " || ',\"version\":' || version::text || '}'"
)
# SQLite stores times as naive UTC text ("2026-01-02 03:04:05.678901"): the archive's form adds
# the T and the offset. json() re-emits each JSON column in one line whatever its stored spacing.
_SQLITE_LINE = (
    "'{\"c\":' || %s || ',\"id\":' || json_quote(id) || ',\"data\":' || json(data)"
    " || ',\"acl\":' || json(acl) || ',\"read_principals\":' || json(read_principals)"
    " || ',\"write_principals\":' || json(write_principals) || ',\"created_by\":' || json_quote(created_by)"
    " || ',\"created_at\":' || json_quote(replace(created_at, ' ', 'T') || '+00:00')"
    " || ',\"updated_at\":' || json_quote(replace(updated_at, ' ', 'T') || '+00:00')"
    " || ',\"version\":' || version || '}'"
)


def _document_lines(collection: Collection) -> Iterator[bytes]:
    """One collection's documents as archive lines (JSON + newline), in (created_at, id) order."""
    name = orjson.dumps(collection.name).decode()
    if connection.vendor == "postgresql":
        yield from _pg_document_lines(collection, name)
        return
    # Keyset pages; created_at || '' is the stored text (no datetime converter), as SQLite compares it.
    first = (
        f"SELECT created_at || '', id, {_SQLITE_LINE} FROM basalt_document "  # noqa: S608
        "WHERE collection_id = %s ORDER BY created_at, id LIMIT %s"
    )
    after = (
        f"SELECT created_at || '', id, {_SQLITE_LINE} FROM basalt_document "  # noqa: S608
        "WHERE collection_id = %s AND (created_at, id) > (%s, %s) ORDER BY created_at, id LIMIT %s"
    )
    last = None
    while True:
        with connection.cursor() as cursor:
            if last is None:
                cursor.execute(first, [name, collection.id, DOCUMENT_PAGE])
            else:
                cursor.execute(after, [name, collection.id, last[0], last[1], DOCUMENT_PAGE])
            page = cursor.fetchall()
        if not page:
            return
        for row in page:
            yield row[2].encode() + b"\n"
        last = page[-1]


def _pg_document_lines(collection: Collection, name: str) -> Iterator[bytes]:
    """PostgreSQL: one COPY of the collection's lines, streamed (inside the export's snapshot).

    COPY's text format doubles every backslash (the only escape a JSON text can need: JSON has no
    raw control characters), so undoubling gives the JSON back exactly."""
    sql = f"COPY ({_PG_LINE} FROM basalt_document WHERE collection_id = %s ORDER BY created_at, id) TO STDOUT"  # noqa: S608
    with connection.cursor() as wrapper, connection.wrap_database_errors:
        with wrapper.cursor.copy(sql, [name, collection.id]) as copy:
            for block in copy:
                line = bytes(block)
                if b"\\" in line:
                    if line == b"\\N\n":
                        raise RuntimeError(f"a document of {collection.name} has a NULL column")
                    line = line.replace(b"\\\\", b"\\")
                yield line


def collection_row(c: Collection) -> dict[str, Any]:
    return {
        "name": c.name,
        "fields": c.fields,
        "indexes": c.indexes,
        "permissions": c.permissions,
        "protected_fields": c.protected_fields,
        "default_acl": c.default_acl,
        "builtin": c.builtin,
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def export_project(project: Project, sink: Any, progress: Progress | None = None) -> dict[str, Any]:
    """Write the project's archive to `sink` (anything with write(bytes)); returns the end counts and size.

    The reads run in one read-only snapshot (PostgreSQL REPEATABLE READ; SQLite's read transaction):
    writes during a long export are not half in the archive, and no lock is held."""
    if connection.in_atomic_block:  # a caller's transaction (tests, a clone inside one) is the snapshot
        return _export(project, sink, progress)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return _export(project, sink, progress)


def _export(project: Project, sink: Any, progress: Progress | None) -> dict[str, Any]:
    note = progress or (lambda phase, done: None)
    writer = archive.ArchiveWriter(sink)
    dropped: list[str] = []
    settings_out = scrub_settings(project.settings or {}, "", dropped) or {}
    collections = list(Collection.objects.filter(project=project).order_by("id"))
    writer.add_json(
        archive.MANIFEST,
        {
            "format": archive.FORMAT,
            "version": archive.VERSION,
            "created_at": iso(timezone.now()),
            "source": {"ref": project.ref, "name": project.name, "created_at": iso(project.created_at)},
            "settings_left_out": sorted(set(dropped)),
            "collections": len(collections),
        },
    )
    writer.add_json("settings.json", settings_out)
    writer.add_json("collections.json", [collection_row(c) for c in collections])

    user_fields = (
        "id", "email", "username", "password", "email_verified", "is_anonymous", "disabled", "data",
        "created_at", "updated_at",
    )  # fmt: skip
    for page in _batches(EndUser.objects.filter(project=project), ("id",), user_fields):
        # Linked sign-in identities (provider + subject) travel with their user, one query per page.
        linked: dict[str, list[dict[str, Any]]] = {}
        rows = LinkedIdentity.objects.filter(user_id__in=[u["id"] for u in page]).values(
            "user_id", "provider", "subject", "email", "email_verified", "profile", "created_at"
        )
        for row in rows:
            owner = row.pop("user_id")
            linked.setdefault(owner, []).append({**row, "created_at": iso(row["created_at"])})
        # Second factors too (TOTP secrets still sealed with this install's key: user_factors).
        factors = user_factors.for_users([u["id"] for u in page], iso)
        for user in page:
            writer.add_row(
                "users",
                {
                    **user,
                    "created_at": iso(user["created_at"]),
                    "updated_at": iso(user["updated_at"]),
                    "identities": linked.get(user["id"], []),
                    **factors.get(user["id"], {}),
                },
            )
        note("users", writer.counts["users"])
    note("users", writer.counts.get("users", 0))

    names = dict(Role.objects.filter(project=project).values_list("id", "name"))
    children: dict[int, list[str]] = {}
    for parent, child in RoleInheritance.objects.filter(parent__project=project).values_list("parent_id", "child_id"):
        children.setdefault(parent, []).append(names[child])
    for role in _pages(
        Role.objects.filter(project=project), ("id",), ("id", "name", "doc_id", "acl", "created_at", "updated_at")
    ):
        writer.add_row(
            "roles",
            {
                "name": role["name"],
                "doc_id": role["doc_id"],
                "acl": role["acl"],
                "roles": sorted(children.get(role["id"], [])),
                "created_at": iso(role["created_at"]),
                "updated_at": iso(role["updated_at"]),
            },
        )
    for member in _pages(RoleMember.objects.filter(role__project=project), ("id",), ("id", "role_id", "user_id")):
        writer.add_row("members", [names[member["role_id"]], member["user_id"]])
    note("roles", writer.counts.get("roles", 0))

    storage = get_storage()
    file_fields = (
        "id", "name", "content_type", "size", "sha256", "storage_key", "acl", "read_principals",
        "write_principals", "created_by", "created_at",
    )  # fmt: skip
    for row in _pages(File.objects.filter(project=project, status=File.READY), ("id",), file_fields):
        size = storage.size(row["storage_key"])
        if size is None:
            continue  # bytes lost from storage: the row would import as a broken file
        writer.add_row(
            "files",
            {
                **{k: v for k, v in row.items() if k != "storage_key"},
                "size": size,
                "created_at": iso(row["created_at"]),
            },
        )
        writer.add_blob(row["id"], size, storage.read(row["storage_key"]))
        note("files", writer.counts["files"])

    for collection in collections:
        for line in _document_lines(collection):
            writer.add_line("documents", line)
            if writer.counts["documents"] % 10_000 == 0:
                note("documents", writer.counts["documents"])
    note("documents", writer.counts.get("documents", 0))
    for collection in collections:
        relation_rows = Relation.objects.filter(collection_id=collection.id)
        for edge in _pages(relation_rows, ("id",), ("id", "field", "from_id", "to_id")):
            writer.add_row("relations", [collection.name, edge["field"], edge["from_id"], edge["to_id"]])
    size = writer.close()
    return {"counts": dict(writer.counts), "size": size}

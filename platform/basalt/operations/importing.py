"""Import an archive (basalt.operations.archive) into an empty project: all of it, or nothing.

Everything is written in one database transaction; file bytes written to storage before a
failure are removed again, so a refused or failed import leaves the project as empty as it was.
Rows are inserted in batches as the archive streams by, so memory does not grow with its size.

Ids: documents, users, roles and files keep their ids (clients and links stay valid), unless
they are taken on this install (a clone, or an archive imported twice): then every id is
rewritten with a keyed hash, the same way wherever it appears (pointer and file fields, ACLs,
principals, creators, relation edges, role documents), so the copy is consistent without an
in-memory map of a million ids.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from basalt.core.errors import BasaltError, Conflict, ValidationFailed
from basalt.core.times import as_utc
from basalt.documents import catalog, schema
from basalt.documents.models import Collection, Document
from basalt.files.ingest import storage_key
from basalt.files.models import File
from basalt.files.storage import get_storage
from basalt.identity.models import EndUser, LinkedIdentity, Role, RoleInheritance, RoleMember
from basalt.operations import archive, restore_rows, user_factors
from basalt.operations.archive import refuse
from basalt.projects.models import Project

logger = logging.getLogger("basalt.operations.importing")
BATCH = 5000
Progress = Callable[[str, int], None]
_ID = re.compile(r"\A[a-z0-9]{1,32}\Z")
_USER_ID = re.compile(r"\A[a-z0-9]{20}\Z")
# Where each entry may come; an entry from an earlier stage after a later one is refused.
STAGES = {
    archive.MANIFEST: 0,
    "settings.json": 1,
    "collections.json": 2,
    "users": 3,
    "roles": 4,
    "members": 5,
    "files": 6,
    "blobs": 6,
    "documents": 7,
    "relations": 8,
    archive.END: 9,
}
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
# Byte → id character: a keyed digest's 20 bytes become 20 characters in one translate() call
# (4 of the 36 characters are a little likelier: still over 100 bits per id).
_ID_CHARS = bytes(ord(_ALPHABET[b % len(_ALPHABET)]) for b in range(256))
_DOCUMENT_COLUMNS = (
    "id, project_id, collection_id, data, acl, read_principals, write_principals, created_by, created_at, "
    "updated_at, version"
)


class ProjectNotEmpty(Conflict):
    code = "project_not_empty"
    default_message = "Imports go into an empty project: this one already has data."


class IdsTaken(Exception):
    """Some ids of the archive exist on this install: the import restarts with rewritten ids."""


def project_contents(project: Project) -> dict[str, int]:
    """What makes a project non-empty (its built-in collections, keys and members do not count)."""
    return {
        "documents": Document.objects.filter(project=project).count(),
        "users": EndUser.objects.filter(project=project).count(),
        "roles": Role.objects.filter(project=project).count(),
        "files": File.objects.filter(project=project).count(),
        "collections": Collection.objects.filter(project=project, builtin=False).count(),
    }


def check_empty(project: Project) -> None:
    contents = {k: v for k, v in project_contents(project).items() if v}
    if contents:
        raise ProjectNotEmpty(details={"contents": contents})


class Ids:
    """Old id → id in this project: itself, or a keyed hash of it (same alphabet and length)."""

    def __init__(self, key: bytes | None):
        self.key = key

    def __call__(self, old: str) -> str:
        if self.key is None:
            return old
        # Keyed BLAKE2b: a MAC like HMAC-SHA256, several times faster per id (a million per import).
        return hashlib.blake2b(old.encode(), key=self.key, digest_size=20).digest().translate(_ID_CHARS).decode()

    def principal(self, value: str) -> str:
        # User ids are 20 lowercase letters/digits; "*", "authenticated", "role:x" never look like one.
        return self(value) if self.key is not None and _USER_ID.match(value) else value

    def acl(self, acl: dict[str, Any]) -> dict[str, Any]:
        return {self.principal(k): v for k, v in acl.items()}

    def principals(self, values: list[str]) -> list[str]:
        return sorted(self.principal(v) for v in values)

    def data(self, refs: dict[str, str], data: dict[str, Any]) -> dict[str, Any]:
        """Pointer and file fields (and arrays of them) of one collection, rewritten."""
        if self.key is None or not refs:
            return data
        out = dict(data)
        for name, shape in refs.items():
            value = out.get(name)
            if shape == "one" and isinstance(value, str):
                out[name] = self(value)
            elif shape == "many" and isinstance(value, list):
                out[name] = [self(v) if isinstance(v, str) else v for v in value]
        return out


def reference_fields(fields: dict[str, Any]) -> dict[str, str]:
    """Field name → "one" | "many" for the fields that hold document or file ids."""
    refs = {}
    for name, spec in fields.items():
        kind = spec.get("type")
        if kind in ("pointer", "file"):
            refs[name] = "one"
        elif kind == "array":
            items = spec.get("items")
            item_type = items.get("type") if isinstance(items, dict) else items
            if item_type in ("pointer", "file") or "to" in spec:
                refs[name] = "many"
    return refs


# --- row checks: an archive is input; every value is checked before it reaches a table ---------


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise refuse("invalid_row", f"{where}: an id must be 1-32 lowercase letters and digits.")
    return value


def _text(value: Any, where: str, limit: int, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise refuse("invalid_row", f"{where}: expected a text of at most {limit} characters.")
    return value


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise refuse("invalid_row", f"{where}: expected an object.")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 80 for v in value):
        raise refuse("invalid_row", f"{where}: expected a list of principals.")
    return value


def _time(value: Any, where: str, *, optional: bool = False) -> datetime | None:
    if value is None and optional:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise refuse("invalid_row", f"{where}: expected an ISO 8601 time.") from None
    if moment.tzinfo is None:
        raise refuse("invalid_row", f"{where}: the time has no offset.")
    utc = as_utc(moment)
    if utc is None:
        raise refuse("invalid_row", f"{where}: the time is out of range.")
    return utc


def _whole(value: Any, where: str) -> int:
    if type(value) is not int or not 0 <= value < 2**63:
        raise refuse("invalid_row", f"{where}: expected a whole number from 0.")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise refuse("invalid_row", f"{where}: expected true or false.")
    return value


def _principals_ok(value: Any) -> bool:
    return type(value) is list and all(type(v) is str and len(v) <= 80 for v in value)


def _sqlite_time(moment: datetime) -> str:
    return str(moment.astimezone(UTC).replace(tzinfo=None))


def _copy_in(table: str, columns: str, rows: list[tuple]) -> None:
    """PostgreSQL: rows into `table` by one COPY (several times faster than INSERTs); its errors
    (a duplicate key) arrive as Django's, like an INSERT's."""
    with connection.cursor() as wrapper, connection.wrap_database_errors:
        with wrapper.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # noqa: S608 (our names)
            for row in rows:
                copy.write_row(row)


def _row_list(row: Any, where: str, length: int) -> list[Any]:
    if not isinstance(row, list) or len(row) != length:
        raise refuse("invalid_row", f"{where}: expected a list of {length} values.")
    return row


class Importer:
    """One pass over an archive into `project` (inside the caller's transaction)."""

    def __init__(self, project: Project, ids: Ids, progress: Progress | None):
        self.project, self.ids = project, ids
        self.note = progress or (lambda phase, done: None)
        self.counts: dict[str, int] = {}
        self.collections: dict[str, Collection] = {}
        self.refs: dict[str, dict[str, str]] = {}
        self.roles: dict[str, int] = {}
        self.children: list[tuple[str, str]] = []
        self.pending: dict[str, list[Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.written: list[str] = []
        self.storage = get_storage()
        self.copy: Any = None  # the open COPY of a documents entry (PostgreSQL)
        self.parents_checked: bool | None = None  # restore_rows, decided at the first documents entry

    # Each part's rows are buffered and inserted BATCH at a time.
    def _add(self, model: str, obj: Any) -> None:
        bucket = self.pending.setdefault(model, [])
        bucket.append(obj)
        if len(bucket) >= BATCH:
            self._flush(model)

    def _flush(self, model: str | None = None) -> None:
        for name in [model] if model else list(self.pending):
            rows = self.pending.get(name) or []
            if not rows:
                continue
            self.pending[name] = []
            if name == "documents":
                self._insert_documents(rows)
                continue
            if name == "relations":
                self._insert_relations(rows)
                continue
            cls = type(rows[0])
            if self.ids.key is None and cls in (Document, EndUser, File):
                if cls.objects.filter(pk__in=[r.pk for r in rows]).exists():
                    raise IdsTaken
            if cls is Role and self.ids.key is None:
                if Role.objects.filter(doc_id__in=[r.doc_id for r in rows]).exists():
                    raise IdsTaken
            cls.objects.bulk_create(rows)

    def _insert_documents(self, rows: list[tuple]) -> None:
        """Documents go in without the ORM (its per-field preparation was most of an import's time):
        PostgreSQL takes each batch by one COPY, SQLite by one executemany."""
        if self.ids.key is None and Document.objects.filter(pk__in=[r[0] for r in rows]).exists():
            raise IdsTaken
        if connection.vendor == "postgresql":
            _copy_in("basalt_document", _DOCUMENT_COLUMNS, rows)
            return
        # Django's SQLite form of a time: naive UTC text (what connection.ops.adapt_datetimefield_value
        # makes, without its per-call settings look-ups).
        rows = [(*r[:8], _sqlite_time(r[8]), _sqlite_time(r[9]), r[10]) for r in rows]
        sql = f"INSERT INTO basalt_document ({_DOCUMENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def _stream_documents(self, entry: archive.Entry) -> None:
        """PostgreSQL: an entry's documents go into one COPY as they are read, so the server inserts
        while this process parses the next rows (parsing a batch, then copying it, left each side
        idle half the time). Nothing else may use the connection meanwhile, so there is no per-batch
        check for taken ids: a taken id fails the COPY on the primary key, and import_archive then
        starts again with rewritten ids (an archive repeating an id fails that pass too: refused)."""
        self._flush()
        sql = f"COPY basalt_document ({_DOCUMENT_COLUMNS}) FROM STDIN"  # noqa: S608 (our names)
        with connection.cursor() as wrapper, connection.wrap_database_errors:
            checked = self._parents_checked(wrapper)
            if checked:
                restore_rows.skip_triggers(wrapper)
            with wrapper.cursor.copy(sql) as copy:
                self.copy = copy
                try:
                    for row in entry.rows():
                        self._documents(row)
                finally:
                    self.copy = None
            if checked:  # on an error the transaction rolls back, and the setting with it
                restore_rows.restore_triggers(wrapper)

    def _parents_checked(self, cursor: Any) -> bool:
        """The documents' foreign keys checked once for the whole import (restore_rows), where allowed.
        Collections are all known by now (an earlier stage), and every row names one of them."""
        if self.parents_checked is None:
            self.parents_checked = restore_rows.allowed(cursor) and restore_rows.lock_parents(
                cursor, self.project.pk, [c.pk for c in self.collections.values()]
            )
        return self.parents_checked

    def _insert_relations(self, rows: list[tuple]) -> None:
        columns = "project_id, collection_id, field, from_id, to_id"
        if connection.vendor == "postgresql":
            _copy_in("basalt_relation", columns, rows)
            return
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO basalt_relation ({columns}) VALUES (%s, %s, %s, %s, %s)", rows)  # noqa: S608

    def run(self, reader: archive.ArchiveReader) -> dict[str, int]:
        stage = -1
        entries = iter(reader)
        first = next(entries, None)
        if first is None or first.name != archive.MANIFEST:
            raise refuse("not_basalt", "Not a Basalt project archive (it does not start with its manifest).")
        archive.check_manifest(first.json())
        end = None
        for entry in entries:
            at = STAGES[entry.part]
            if at < stage:
                raise refuse("out_of_order", f"{entry.name} comes after a later part of the archive.")
            if at != stage:
                self._flush()  # a part is complete before the next one refers to it
            if at > STAGES["roles"] >= stage and self.children is not None:
                self._roles_done()
            stage = at
            if entry.name == "settings.json":
                self._settings(entry.json())
            elif entry.name == "collections.json":
                self._collections(entry.json())
            elif entry.name == archive.END:
                end = entry.json()
                break
            elif entry.part == "blobs":
                self._blob(entry)
            else:
                handler = getattr(self, f"_{entry.part}")
                if entry.part == "documents" and connection.vendor == "postgresql":
                    self._stream_documents(entry)
                else:
                    for row in entry.rows():
                        handler(row)
                self.note(entry.part, self.counts.get(entry.part, 0))
        if end is None:
            raise refuse("truncated", "The archive is cut short (its end record is missing).")
        if self.children is not None:
            self._roles_done()
        self._flush()
        self._check_end(end)
        return self.counts

    def _count(self, part: str) -> None:
        self.counts[part] = self.counts.get(part, 0) + 1

    def _settings(self, value: Any) -> None:
        from basalt.projects.project_settings import SECTION_VALIDATORS

        value = _obj(value, "settings.json")
        stored = dict(self.project.settings or {})
        for section, item in value.items():
            validator = SECTION_VALIDATORS.get(section)
            if validator is None:
                continue  # a section this install does not have (another version's area)
            try:
                merges = getattr(validator, "merges_stored", False)
                cleaned = validator(item, stored.get(section)) if merges else validator(item)
            except ValidationFailed as exc:
                raise refuse(
                    "invalid_settings", f"settings.json: the {section!r} section is invalid.", details=exc.details
                ) from None
            if isinstance(cleaned, dict) and isinstance(stored.get(section), dict):
                stored[section] = {**stored[section], **cleaned}
            else:
                stored[section] = cleaned
        self.project.settings = stored
        self.project.save(update_fields=["settings"])

    def _collections(self, value: Any) -> None:
        if not isinstance(value, list) or len(value) > catalog.MAX_COLLECTIONS + 10:
            raise refuse("invalid_row", "collections.json: expected a list of collections.")
        existing = {c.name: c for c in Collection.objects.filter(project=self.project)}
        names = {c.get("name") for c in value if isinstance(c, dict)}
        for raw in value:
            raw = _obj(raw, "collections.json")
            try:
                name = schema.check_name(raw.get("name"))
                fields_in = {
                    k: {o: v for o, v in d.items() if o != "builtin"} if isinstance(d, dict) else d
                    for k, d in _obj(raw.get("fields", {}), f"collection {name}").items()
                }
                fields = schema.validate_fields(fields_in)
                indexes = schema.validate_indexes(raw.get("indexes", []), fields)
                permissions = schema.validate_permissions(raw.get("permissions", {}), fields)
                protected = schema.validate_protected_fields(raw.get("protected_fields", {}), fields)
                default_acl = schema.validate_default_acl(raw.get("default_acl", "owner"))
                schema.check_targets(fields, {n for n in names if isinstance(n, str)})
            except ValidationFailed as exc:
                raise refuse(
                    "invalid_schema",
                    f"collections.json: collection {str(raw.get('name'))[:63]!r} is invalid.",
                    details=exc.details,
                ) from None
            current = existing.get(name)
            if name in schema.BUILTIN_NAMES:
                if current is None:
                    current = self._builtin(name)
                # The area's own fields stay as this install defines them; the archive adds custom ones.
                ours = {k: d for k, d in current.fields.items() if d.get("builtin")}
                current.fields = {**fields, **ours}
                current.indexes, current.permissions = indexes, permissions
                current.protected_fields, current.default_acl = protected, default_acl
                current.created_at = _time(raw.get("created_at"), name, optional=True) or current.created_at
                current.updated_at = _time(raw.get("updated_at"), name, optional=True) or current.updated_at
                current.save()
                collection = current
            else:
                collection = Collection.objects.create(
                    project=self.project, name=name, fields=fields, indexes=indexes, permissions=permissions,
                    protected_fields=protected, default_acl=default_acl,
                    created_at=_time(raw.get("created_at"), name, optional=True) or timezone.now(),
                    updated_at=_time(raw.get("updated_at"), name, optional=True) or timezone.now(),
                )  # fmt: skip
            catalog._sync_indexes(collection, indexes)
            self.collections[name] = collection
            self.refs[name] = reference_fields(collection.fields)
        catalog._bump(self.project)

    def _builtin(self, name: str) -> Collection:
        from basalt.push.builtin import installations_collection

        if name == "installations":
            return installations_collection(self.project)
        return Collection.objects.get(project=self.project, name=name)

    def _users(self, row: Any) -> None:
        row = _obj(row, "users")
        where = f"user {str(row.get('id'))[:40]}"
        user_id = self.ids(_id(row.get("id"), where))
        self._add(
            "users",
            EndUser(
                id=user_id,
                project=self.project,
                email=_text(row.get("email"), where, 254, optional=True),
                username=_text(row.get("username"), where, 32, optional=True),
                password=_text(row.get("password") or "", where, 256),
                email_verified=_bool(row.get("email_verified", False), where),
                is_anonymous=_bool(row.get("is_anonymous", False), where),
                disabled=_bool(row.get("disabled", False), where),
                data=self.ids.data(self.refs.get("users", {}), _obj(row.get("data", {}), where)),
                created_at=_time(row.get("created_at"), where),
                updated_at=_time(row.get("updated_at"), where),
            ),
        )
        for identity in row.get("identities") or []:
            identity = _obj(identity, where)
            self._add(
                "identities",
                LinkedIdentity(
                    project=self.project,
                    user_id=user_id,
                    provider=_text(identity.get("provider"), where, 32),
                    subject=_text(identity.get("subject"), where, 255),
                    email=_text(identity.get("email"), where, 254, optional=True),
                    email_verified=_bool(identity.get("email_verified", False), where),
                    profile=_obj(identity.get("profile", {}), where),
                    created_at=_time(identity.get("created_at"), where),
                ),
            )
        for model, factor in user_factors.rows_for(self.project, user_id, row, where, _text, _whole, _time):
            self._add(model, factor)
        self._count("users")

    def _roles(self, row: Any) -> None:
        row = _obj(row, "roles")
        where = f"role {str(row.get('name'))[:63]}"
        name = _text(row.get("name"), where, 63)
        role = Role(
            project=self.project,
            doc_id=self.ids(_id(row.get("doc_id"), where)),
            name=name,
            acl=self.ids.acl(_obj(row.get("acl", {}), where)),
            created_at=_time(row.get("created_at"), where),
            updated_at=_time(row.get("updated_at"), where),
        )
        if self.ids.key is None and Role.objects.filter(doc_id=role.doc_id).exists():
            raise IdsTaken
        role.save(force_insert=True)  # roles are few; their ids are needed for members
        self.roles[name] = role.id
        for child in row.get("roles") or []:
            self.children.append((name, _text(child, where, 63)))
        self._count("roles")

    def _roles_done(self) -> None:
        for parent, child in self.children:
            if parent not in self.roles or child not in self.roles:
                raise refuse("invalid_row", f"role {parent!r} inherits from an unknown role {child!r}.")
            RoleInheritance.objects.create(parent_id=self.roles[parent], child_id=self.roles[child])
        self.children = None  # type: ignore[assignment]

    def _members(self, row: Any) -> None:
        role_name, user_id = _row_list(row, "members", 2)
        if role_name not in self.roles:
            raise refuse("invalid_row", f"a membership names an unknown role {str(role_name)[:63]!r}.")
        self._add("members", RoleMember(role_id=self.roles[role_name], user_id=self.ids(_id(user_id, "members"))))
        self._count("members")

    def _files(self, row: Any) -> None:
        row = _obj(row, "files")
        where = f"file {str(row.get('id'))[:40]}"
        old = _id(row.get("id"), where)
        size = row.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise refuse("invalid_row", f"{where}: size must be a whole number of bytes.")
        new = self.ids(old)
        if self.ids.key is None and File.objects.filter(pk=new).exists():
            raise IdsTaken
        self.files[old] = {
            "row": File(
                id=new,
                project=self.project,
                name=_text(row.get("name"), where, 255),
                content_type=_text(row.get("content_type"), where, 127),
                size=size,
                sha256=_text(row.get("sha256") or "", where, 64),
                storage_key=storage_key(self.project.pk, new),
                status=File.READY,
                acl=self.ids.acl(_obj(row.get("acl", {}), where)),
                read_principals=self.ids.principals(_strings(row.get("read_principals", []), where)),
                write_principals=self.ids.principals(_strings(row.get("write_principals", []), where)),
                created_by=self.ids.principal(_text(row.get("created_by"), where, 32, optional=True) or "") or None,
                created_at=_time(row.get("created_at"), where),
            ),
        }
        self._count("files")

    def _blob(self, entry: archive.Entry) -> None:
        old = entry.name.split("/", 1)[1]
        pending = self.files.pop(old, None)
        if pending is None:
            raise refuse("invalid_row", f"{entry.name} belongs to no file row.")
        row: File = pending["row"]
        if entry.size != row.size:
            raise refuse("corrupt", f"{entry.name} has {entry.size} bytes; its file row says {row.size}.")
        writer = self.storage.writer(row.storage_key)
        digest = hashlib.sha256()
        try:
            for chunk in entry.chunks():
                digest.update(chunk)
                writer.write(chunk)
        except BaseException:
            writer.abort()
            raise
        if row.sha256 and digest.hexdigest() != row.sha256:
            writer.abort()
            raise refuse("corrupt", f"{entry.name} does not match its checksum.")
        writer.commit()
        self.written.append(row.storage_key)
        self._add("files", row)
        self._count("blobs")

    def _documents(self, row: Any) -> None:
        """One document row, checked and queued. The common case (a well-formed row) is checked in
        one expression; a row failing it is checked again field by field for the precise refusal.
        This runs a million times in a large import: it avoids per-field calls and f-strings."""
        if self.files:
            raise refuse("truncated", f"{len(self.files)} file(s) have no bytes in the archive.")
        if type(row) is not dict:
            _obj(row, "documents")
        get = row.get
        collection = self.collections.get(get("c"))
        doc_id, data, acl = get("id"), get("data"), get("acl", {})
        read, write = get("read_principals", []), get("write_principals", [])
        version, created_by = get("version", 1), get("created_by")
        if not (
            collection is not None
            and type(doc_id) is str
            and _ID.match(doc_id)
            and type(data) is dict
            and type(acl) is dict
            and _principals_ok(read)
            and _principals_ok(write)
            and type(version) is int
            and version >= 1
            and (created_by is None or (type(created_by) is str and len(created_by) <= 32))
        ):
            self._refuse_document(row)
        try:
            created_at = datetime.fromisoformat(get("created_at"))
            updated_at = datetime.fromisoformat(get("updated_at"))
        except (TypeError, ValueError):
            created_at = updated_at = None
        # Only a first or last year can be carried out of range by its offset (`_time` refuses those).
        if (
            created_at is None
            or created_at.tzinfo is None
            or updated_at.tzinfo is None
            or created_at.year in (1, 9999)
            or updated_at.year in (1, 9999)
        ):
            where = f"document {str(doc_id)[:40]}"  # named only for a refusal
            created_at = _time(get("created_at"), where)
            updated_at = _time(get("updated_at"), where)
        ids = self.ids
        if ids.key is not None:
            doc_id = ids(doc_id)
            data = ids.data(self.refs[collection.name], data)
            acl = ids.acl(acl)
            if created_by:
                created_by = ids.principal(created_by)
        dumps = orjson.dumps
        (self.copy.write_row if self.copy is not None else self._queue_document)(
            (
                doc_id,
                self.project.pk,
                collection.pk,
                dumps(data).decode(),
                dumps(acl).decode(),
                dumps(ids.principals(read)).decode(),
                dumps(ids.principals(write)).decode(),
                created_by or None,
                created_at,
                updated_at,
                version,
            ),
        )
        self._count("documents")
        if self.counts["documents"] % 10_000 == 0:
            self.note("documents", self.counts["documents"])

    def _queue_document(self, row: tuple) -> None:
        self._add("documents", row)

    def _refuse_document(self, row: dict[str, Any]) -> None:
        """The precise refusal for a document row that failed the one-expression check."""
        where = f"document {str(row.get('id'))[:40]}"
        if self.collections.get(row.get("c")) is None:
            raise refuse("invalid_row", f"{where}: unknown collection {str(row.get('c'))[:63]!r}.")
        version = row.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise refuse("invalid_row", f"{where}: version must be a positive whole number.")
        _text(row.get("created_by"), where, 32, optional=True)
        _id(row.get("id"), where)
        _obj(row.get("data"), where)
        _obj(row.get("acl", {}), where)
        _strings(row.get("read_principals", []), where)
        _strings(row.get("write_principals", []), where)
        raise refuse("invalid_row", f"{where}: the row is malformed.")  # pragma: no cover (a check above fails)

    def _relations(self, row: Any) -> None:
        name, field, from_id, to_id = _row_list(row, "relations", 4)
        collection = self.collections.get(name)
        if collection is None or not isinstance(field, str) or field not in collection.fields:
            raise refuse("invalid_row", f"a relation names an unknown collection or field ({str(name)[:63]}).")
        self._add(
            "relations",
            (
                self.project.pk,
                collection.pk,
                field,
                self.ids(_id(from_id, "relations")),
                self.ids(_id(to_id, "relations")),
            ),
        )
        self._count("relations")

    def _check_end(self, end: Any) -> None:
        if self.files:
            raise refuse("truncated", f"{len(self.files)} file(s) have no bytes in the archive.")
        declared = _obj(_obj(end, "end.json").get("counts"), "end.json")
        for part in (*archive.PARTS, "blobs"):
            if declared.get(part, 0) != self.counts.get(part, 0):
                raise refuse(
                    "truncated",
                    f"The archive declares {declared.get(part, 0)} {part} but holds {self.counts.get(part, 0)}.",
                    part=part,
                )

    def cleanup(self) -> None:
        for key in self.written:
            try:
                self.storage.delete_prefix(key.rsplit("/", 1)[0] + "/")
            except Exception:  # best effort: the failure is already being reported
                logger.warning("could not remove %s after a failed import", key, exc_info=True)


def import_archive(
    project: Project,
    open_archive: Callable[[], BinaryIO],
    progress: Progress | None = None,
    *,
    new_ids: bool = False,
    finish: Callable[[Importer], None] | None = None,
) -> dict[str, Any]:
    """Import into the (empty) project; `open_archive` opens the stream (called again if ids must be rewritten).

    `finish` runs in the import's transaction after every row is in (it gets the Importer: its
    project and `ids`, the final id of each archived id)."""
    key = secrets.token_bytes(32) if new_ids else None
    for _attempt in range(2):
        importer = Importer(project, Ids(key), progress)
        raw = open_archive()
        try:
            with transaction.atomic():
                locked = Project.objects.select_for_update().get(pk=project.pk)
                check_empty(locked)
                importer.project = locked
                counts = importer.run(archive.ArchiveReader(raw))
                if finish is not None:
                    finish(importer)
            return {"counts": counts, "ids_rewritten": key is not None}
        except IdsTaken:
            importer.cleanup()
            key = secrets.token_bytes(32)
        except IntegrityError as exc:
            importer.cleanup()
            if key is None:  # an id taken on this install (documents are not checked first on PostgreSQL)
                key = secrets.token_bytes(32)
                continue
            raise refuse(
                "invalid_row", f"The archive holds conflicting rows ({str(exc).splitlines()[0][:200]})."
            ) from None
        except BaseException:
            importer.cleanup()
            raise
        finally:
            close = getattr(raw, "close", None)
            if close is not None:
                close()
    raise BasaltError("The import could not find free ids.")  # pragma: no cover (a second pass always rewrites)

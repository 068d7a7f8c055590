"""Import a Parse Server export (Parse Dashboard: one `<Class>.json` per class, in a .zip or .tar.gz).

The export is translated into a Basalt archive (basalt.operations.archive) in a temporary file and
imported by the same importer, so the same checks, single transaction and cleanup apply.

- Classes become collections with snake_case names (`GameScore` → `game_score`), fields likewise
  (`playerName` → `player_name`); a field's type is read from its values (Pointer → pointer,
  Date → date, GeoPoint → geopoint, Relation → relation, numbers, strings, booleans, arrays, objects).
- `_User` rows become users: `username`, `email`, `emailVerified`, and `_hashed_password` kept as a
  bcrypt hash that the `ImportedBcryptPasswordHasher` verifies; the first sign-in rehashes it with
  Argon2. Other `_User` fields become custom user fields.
- `_Role` rows become roles, their members and child roles read from `_Join:users:_Role.json` and
  `_Join:roles:_Role.json`; other `_Join:<field>:<Class>.json` files become relation edges.
- ACLs keep their meaning (`*`, user ids, `role:Name`); a row without an ACL is public, as in Parse.
- Parse objectIds (mixed case) are not Basalt ids: every id is rewritten with a keyed hash of
  (class, objectId), consistently in pointers, ACLs and relations.
- `_Installation` rows become push installations, and `authData` links of Google, Apple and GitHub
  become linked sign-ins (parse_devices; counts and what was left out in the result).
- `_Session` rows become sessions of the Parse face, so the app's users stay signed in (parse_sessions).
- File fields keep the file's URL as text, unless the operator says where the bytes are
  (`FileSource`: a local folder of the files adapter's files, or a base URL on an allowed host;
  parse_files.py): then they are `file` fields pointing at the imported files, and a file that is
  missing or refused is counted in the result (`files`) and left out of its object.
Not imported (named in the result): other `_` classes.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

import orjson
from django.conf import settings

from basalt.documents import access
from basalt.documents.schema import NAME, SYSTEM_FIELDS
from basalt.files.config import files_config
from basalt.identity.builtin import USERS_DEFINITION
from basalt.identity.builtin_roles import ROLES_DEFINITION
from basalt.operations import archive, importing, parse_devices, parse_files, parse_sessions
from basalt.operations.archive import refuse
from basalt.projects.models import Project

# One class file is parsed whole: bounded so a hostile export cannot take the worker's memory.
MAX_CLASS_BYTES = 256 * 1024 * 1024
_CLASS = r"_?[A-Za-z][A-Za-z0-9_]{0,62}"
_ENTRY = re.compile(rf"\A(?:[\w .-]+/)*(?P<name>{_CLASS}|_Join:[A-Za-z0-9_]{{1,63}}:{_CLASS})\.json\Z")
SKIPPED_CLASSES = frozenset(
    {"_Product", "_Audience", "_PushStatus", "_JobStatus", "_JobSchedule", "_Hooks"}
    | {"_GlobalConfig", "_GraphQLConfig", "_Idempotency", "_SCHEMA"}
)
PARSE_SYSTEM = {"objectId", "createdAt", "updatedAt", "ACL"}
OPERATIONS = ("get", "find", "count", "create", "update", "delete")
_USER_OWN = {"username", "email", "emailVerified", "_hashed_password", "authData", "_email_verify_token",
             "_perishable_token", "_failed_login_count", "_account_lockout_expires_at", "_password_history",
             "_password_changed_at", "_email_verify_token_expires_at", "_perishable_token_expires_at",
             "_rperm", "_wperm", "sessionToken", "password"}  # fmt: skip


def snake(name: str) -> str:
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name.lstrip("_")).lower()
    out = re.sub(r"[^a-z0-9_]", "_", out)
    return out if out[:1].isalpha() else f"c_{out}"


def collection_name(cls: str) -> str:
    return {"_User": "users", "_Role": "roles"}.get(cls) or snake(cls)


def field_name(name: str) -> str:
    out = snake(name)
    return f"parse_{out}" if out in SYSTEM_FIELDS else out


class ParseExport:
    """The class files of an export: opened once from a spooled copy, each read whole when needed."""

    def __init__(self, spool: BinaryIO):
        self.spool = spool
        head = spool.read(4)
        spool.seek(0)
        self.kind = "zip" if head.startswith(b"PK") else "tar" if head.startswith(b"\x1f\x8b") else None
        if self.kind is None:
            raise refuse("not_parse", "A Parse export is a .zip or .tar.gz of <Class>.json files.")
        self.files: dict[str, Any] = {}
        self.total = 0
        try:
            self._index()
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
            raise refuse("corrupt", f"The export is damaged or cut short ({exc}).") from None
        if not self.files:
            raise refuse("not_parse", "The export holds no <Class>.json file.")

    def _accept(self, name: str, size: int, regular: bool, ref: Any) -> None:
        if name.endswith("/") or name.startswith("__MACOSX/"):
            return
        parts = name.replace("\\", "/").split("/")
        if name.startswith("/") or ".." in parts or "\\" in name:
            raise refuse(
                "unsafe_path", f"The export holds an entry outside its folder: {name[:120]!r}.", entry=name[:120]
            )
        if not regular:
            raise refuse(
                "unsafe_entry", f"{name[:120]} is not a regular file (links and devices are refused).", entry=name[:120]
            )
        match = _ENTRY.match(name)
        if match is None:
            return  # not a class file (README, schema dumps): ignored
        if size > MAX_CLASS_BYTES:
            raise refuse("too_large", f"{name[:120]} is larger than {MAX_CLASS_BYTES} bytes.")
        self.total += size
        if self.total > settings.IMPORT_MAX_UNPACKED_BYTES:
            raise refuse("bomb", f"The export unpacks to more than {settings.IMPORT_MAX_UNPACKED_BYTES} bytes.")
        self.files[match["name"]] = (ref, size)

    def _index(self) -> None:
        if self.kind == "zip":
            self.zip = zipfile.ZipFile(self.spool)
            for info in self.zip.infolist():
                mode = (info.external_attr >> 16) & 0o170000
                self._accept(info.filename, info.file_size, mode in (0, 0o100000), info)
        else:
            self.tar = tarfile.open(fileobj=self.spool, mode="r:gz")
            for member in self.tar.getmembers():
                if member.isdir():
                    continue
                self._accept(member.name, member.size, member.type in (tarfile.REGTYPE, tarfile.AREGTYPE), member)

    def rows(self, name: str) -> list[dict[str, Any]]:
        ref, size = self.files[name]
        try:
            stream = self.zip.open(ref) if self.kind == "zip" else self.tar.extractfile(ref)
            data = stream.read(MAX_CLASS_BYTES + 1)  # the declared size may lie; the read is bounded anyway
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise refuse("corrupt", f"{name}.json is damaged ({exc}).") from None
        if len(data) > MAX_CLASS_BYTES:
            raise refuse("bomb", f"{name}.json unpacks to more than it declares.")
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise refuse("corrupt", f"{name}.json is not valid JSON.") from None
        if isinstance(value, dict) and isinstance(value.get("results"), list):
            value = value["results"]
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise refuse(
                "not_parse", f'{name}.json is not a Parse export (a list of objects, or {{"results": [...]}}).'
            )
        return value


class Converter:
    def __init__(self, export: ParseExport, key: bytes, files: parse_files.FileBytes | None = None):
        self.export = export
        self.files = files
        self.ids = importing.Ids(key)
        self.classes = sorted(
            n
            for n in export.files
            if not n.startswith("_Join:") and n not in SKIPPED_CLASSES and n not in ("_Installation", "_Session")
        )
        self.installations = "_Installation" in export.files
        self.skipped = sorted(n for n in export.files if n in SKIPPED_CLASSES)
        self.names = {cls: collection_name(cls) for cls in self.classes}
        seen: dict[str, str] = {}
        for cls, name in self.names.items():
            if not NAME.match(name) or name == "installations":
                raise refuse("invalid_schema", f"Class {cls!r} has no usable collection name ({name!r}).")
            if name in seen:
                raise refuse("invalid_schema", f"Classes {seen[name]!r} and {cls!r} both become {name!r}.")
            seen[name] = cls
        self.fields: dict[str, dict[str, dict[str, Any]]] = {}
        self.field_names: dict[str, dict[str, str]] = {}

    def id(self, cls: str, object_id: Any) -> str:
        if not isinstance(object_id, str) or not 1 <= len(object_id) <= 64:
            raise refuse("invalid_row", f"{cls}: an objectId must be a string.")
        return self.ids(f"{cls}:{object_id}")

    # --- pass 1: field types ------------------------------------------------------------------

    def infer(self) -> None:
        for cls in self.classes:
            fields: dict[str, dict[str, Any]] = {}
            names: dict[str, str] = {}
            own = _USER_OWN if cls == "_User" else {"name", "users", "roles"} if cls == "_Role" else set()
            for row in self.export.rows(cls):
                for key, value in row.items():
                    if key in PARSE_SYSTEM or key in own or key.startswith("_") or value is None:
                        continue
                    name = field_name(key)
                    if not NAME.match(name):
                        raise refuse("invalid_schema", f"{cls}.{key} has no usable field name.")
                    spec = self._type_of(cls, key, value)
                    known = fields.get(name)
                    if known is None:
                        fields[name], names[key] = spec, name
                    elif known["type"] != spec["type"]:
                        raise refuse(
                            "invalid_schema",
                            f"{cls}.{key} holds both {known['type']} and {spec['type']} values; "
                            "a Basalt field has one type.",
                        )
            self.fields[cls], self.field_names[cls] = fields, names

    def _type_of(self, cls: str, key: str, value: Any) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"type": "boolean"}
        if isinstance(value, int | float):
            return {"type": "number"}
        if isinstance(value, str):
            return {"type": "string"}
        if isinstance(value, list):
            return {"type": "array"}
        if isinstance(value, dict):
            kind = value.get("__type")
            if kind == "Date":
                return {"type": "date"}
            if kind in ("Pointer", "Relation"):
                target = value.get("className")
                if target not in self.names:
                    raise refuse(
                        "invalid_schema",
                        f"{cls}.{key} points to class {str(target)[:63]!r}, which is not in the export.",
                    )
                return {"type": kind.lower(), "to": self.names[target]}
            if kind == "GeoPoint":
                return {"type": "geopoint"}
            if kind == "File" and self.files is not None:
                return {"type": "file"}
            if kind in ("File", "Bytes"):
                return {"type": "string"}
            return {"type": "object"}
        raise refuse("invalid_row", f"{cls}.{key}: a value of an unknown kind.")

    # --- pass 2: rows -------------------------------------------------------------------------

    def value(self, cls: str, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            kind = value.get("__type")
            if kind == "Date":
                return value.get("iso")
            if kind == "Pointer":
                return self.id(value.get("className"), value.get("objectId"))
            if kind == "GeoPoint":
                return {"lat": value.get("latitude"), "lng": value.get("longitude")}
            if kind == "File" and self.files is not None:
                return self.files.file_id(_file_name(value))
            if kind == "File":
                return value.get("url") or value.get("name")
            if kind == "Bytes":
                return value.get("base64")
        return value

    def acl(self, raw: Any) -> dict[str, Any]:
        if raw is None:
            return {"*": {"read": True, "write": True}}  # Parse: no ACL means public
        if not isinstance(raw, dict):
            raise refuse("invalid_row", "An ACL must be an object.")
        out = {}
        for principal, grant in raw.items():
            if not isinstance(grant, dict):
                continue
            if principal != "*" and not principal.startswith("role:"):
                principal = self.id("_User", principal)
            out[principal] = {k: bool(v) for k, v in grant.items() if k in ("read", "write") and v}
        return out

    def time(self, raw: Any) -> str:
        if isinstance(raw, dict):
            raw = raw.get("iso")
        if not isinstance(raw, str):
            return datetime.now(UTC).isoformat()
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).isoformat()
        except ValueError:
            raise refuse("invalid_row", f"{raw[:40]!r} is not a time.") from None

    def document(self, cls: str, row: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        acl = self.acl(row.get("ACL"))
        readers, writers = access.acl_principals(acl)
        return {
            "c": self.names[cls],
            "id": self.id(cls, row.get("objectId")),
            "data": data,
            "acl": acl,
            "read_principals": readers,
            "write_principals": writers,
            "created_by": None,
            "created_at": self.time(row.get("createdAt")),
            "updated_at": self.time(row.get("updatedAt") or row.get("createdAt")),
            "version": 1,
        }

    def custom(self, cls: str, row: dict[str, Any]) -> dict[str, Any]:
        names = self.field_names[cls]
        kinds = self.fields[cls]
        out = {
            names[key]: self.value(cls, key, value)
            for key, value in row.items()
            if key in names and value is not None and kinds[names[key]]["type"] != "relation"
        }
        return {name: value for name, value in out.items() if value is not None}  # a missing file: left out

    def fetch_files(self) -> None:
        """Read every file the objects name (after users' and roles', read as they were converted),
        so the archive's file rows can all come before its documents."""
        if self.files is None:
            return
        for cls in self.classes:
            keys = [k for k, n in self.field_names[cls].items() if self.fields[cls][n]["type"] == "file"]
            if not keys or cls in ("_User", "_Role"):
                continue
            for row in self.export.rows(cls):
                for key in keys:
                    if isinstance(row.get(key), dict):
                        self.files.file_id(_file_name(row[key]))

    def write(self, writer: archive.ArchiveWriter) -> dict[str, Any]:
        writer.add_json(
            archive.MANIFEST, {"format": archive.FORMAT, "version": archive.VERSION, "source": {"parse": True}}
        )
        writer.add_json("settings.json", {})
        collections = []
        for cls in self.classes:
            name = self.names[cls]
            base = USERS_DEFINITION if cls == "_User" else ROLES_DEFINITION if cls == "_Role" else None
            definition = {
                "name": name,
                # Built-in collections keep their own fields (the importer keeps this install's definitions).
                "fields": {**(base["fields"] if base else {}), **self.fields[cls]},
                # Parse classes start open to every key, as Parse's CLPs default; ACLs still apply.
                "permissions": base["permissions"] if base else {op: ["*"] for op in OPERATIONS},
                "default_acl": base["default_acl"] if base else "public",
            }  # fmt: skip
            if base is not None and "protected_fields" in base:
                definition["protected_fields"] = base["protected_fields"]
            collections.append(definition)
        if self.installations:
            collections.append(parse_devices.installations_definition())
        writer.add_json("collections.json", collections)
        users = self.export.rows("_User") if "_User" in self.classes else []
        user_docs = []
        linked: dict[str, int] = {}
        not_linked: dict[str, int] = {}
        for row in users:
            user_id = self.id("_User", row.get("objectId"))
            hashed = row.get("_hashed_password")
            password = f"bcrypt_import${hashed}" if isinstance(hashed, str) and hashed.startswith("$2") else ""
            email = row.get("email") if isinstance(row.get("email"), str) else None
            username = row.get("username") if isinstance(row.get("username"), str) else None
            custom = self.custom("_User", row)
            created, updated = self.time(row.get("createdAt")), self.time(row.get("updatedAt") or row.get("createdAt"))
            links, anonymous, other = parse_devices.identities(row.get("authData"))
            anonymous = anonymous and not email and not password
            for provider, _ in links:
                linked[provider] = linked.get(provider, 0) + 1
            for provider in other:
                not_linked[provider] = not_linked.get(provider, 0) + 1
            writer.add_row(
                "users",
                {
                    "id": user_id, "email": email, "username": username[:32] if username else None,
                    "password": password, "email_verified": row.get("emailVerified") is True,
                    "is_anonymous": anonymous, "disabled": False, "data": custom, "created_at": created,
                    "updated_at": updated,
                    "identities": [{"provider": provider, "subject": subject, "created_at": created}
                                   for provider, subject in links],
                },
            )  # fmt: skip
            identity = {"email": email, "username": username[:32] if username else None,
                        "email_verified": row.get("emailVerified") is True, "is_anonymous": anonymous}  # fmt: skip
            doc = self.document("_User", row, {**custom, **{k: v for k, v in identity.items() if v is not None}})
            # A user's document: public read, the user writes (as Basalt's own sign-up makes it).
            doc["acl"] = {"*": {"read": True}, user_id: {"read": True, "write": True}}
            doc["read_principals"], doc["write_principals"] = sorted(["*", user_id]), [user_id]
            doc["created_by"] = user_id
            user_docs.append(doc)
        roles = self.export.rows("_Role") if "_Role" in self.classes else []
        role_names = {}
        for row in roles:
            role_names[row.get("objectId")] = row.get("name")
        joins = {name: self.export.rows(name) for name in self.export.files if name.startswith("_Join:")}
        children: dict[str, list[str]] = {}
        for edge in joins.get("_Join:roles:_Role", []):
            parent, child = role_names.get(edge.get("owningId")), role_names.get(edge.get("relatedId"))
            if parent and child:
                children.setdefault(parent, []).append(child)
        role_docs = []
        for row in roles:
            name = row.get("name")
            acl = self.acl(row.get("ACL"))
            writer.add_row(
                "roles",
                {"name": name, "doc_id": self.id("_Role", row.get("objectId")), "acl": acl,
                 "roles": sorted(set(children.get(name, []))), "created_at": self.time(row.get("createdAt")),
                 "updated_at": self.time(row.get("updatedAt") or row.get("createdAt"))},
            )  # fmt: skip
            role_docs.append(self.document("_Role", row, {"name": name}))
        for edge in joins.get("_Join:users:_Role", []):
            role = role_names.get(edge.get("owningId"))
            if role:
                writer.add_row("members", [role, self.id("_User", edge.get("relatedId"))])
        if self.files is not None:
            self.fetch_files()
            self.files.write(writer)
        for doc in user_docs + role_docs:
            writer.add_row("documents", doc)
        counts: dict[str, int] = {}
        for cls in self.classes:
            if cls in ("_User", "_Role"):
                continue
            for row in self.export.rows(cls):
                writer.add_row("documents", self.document(cls, row, self.custom(cls, row)))
                counts[cls] = counts.get(cls, 0) + 1
        devices = self._installations(writer) if self.installations else None
        for name, edges in joins.items():
            _, field, cls = name.split(":")
            if cls not in self.names:
                continue
            collection = self.names[cls]
            if cls == "_Role" and field in ("users", "roles"):
                target = "_User" if field == "users" else "_Role"
            else:
                spec = self.fields.get(cls, {}).get(field_name(field))
                if spec is None or spec["type"] != "relation":
                    continue
                target = next(c for c, n in self.names.items() if n == spec["to"])
            for edge in edges:
                writer.add_row(
                    "relations",
                    [collection, field_name(field) if cls != "_Role" else field,
                     self.id(cls, edge.get("owningId")), self.id(target, edge.get("relatedId"))],
                )  # fmt: skip
        summary: dict[str, Any] = {"classes": counts, "skipped": self.skipped}
        if self.files is not None:
            summary["files"] = self.files.summary()
        summary["linked_sign_ins"], summary["sign_ins_not_linked"] = linked, not_linked
        if devices is not None:
            summary["installations"] = devices
        return summary

    def _installations(self, writer: archive.ArchiveWriter) -> dict[str, Any]:
        """`_Installation` rows as documents of the built-in installations collection (parse_devices)."""
        rows = self.export.rows("_Installation")
        left_out: dict[str, int] = {}
        fields_left_out: dict[str, int] = {}
        imported = 0
        for row in parse_devices.newest_per_token(rows, lambda r: self.time(r.get("updatedAt") or r.get("createdAt"))):
            data, why = parse_devices.device(row)
            if data is None:
                left_out[why] = left_out.get(why, 0) + 1
                continue
            fields, dropped = parse_devices.custom_fields(row, self._pointer)
            if fields:
                data["custom"] = fields
            for key in dropped:
                if key in fields_left_out or len(fields_left_out) < 100:
                    fields_left_out[key] = fields_left_out.get(key, 0) + 1
            owner = row.get("user")
            user_id = None
            if isinstance(owner, dict) and owner.get("className") == "_User" and "_User" in self.classes:
                user_id = self.id("_User", owner.get("objectId"))
                data["user"] = user_id
            acl = {user_id: {"read": True, "write": True}} if user_id else {}
            writer.add_row(
                "documents",
                {"c": parse_devices.INSTALLATIONS, "id": self.id("_Installation", row.get("objectId")), "data": data,
                 "acl": acl, "read_principals": [user_id] if user_id else [],
                 "write_principals": [user_id] if user_id else [], "created_by": user_id,
                 "created_at": self.time(row.get("createdAt")),
                 "updated_at": self.time(row.get("updatedAt") or row.get("createdAt")), "version": 1},
            )  # fmt: skip
            imported += 1
        duplicates = len(rows) - len({r.get("deviceToken") for r in rows})
        if duplicates:
            left_out["same_token"] = duplicates
        summary: dict[str, Any] = {"imported": imported, "left_out": left_out}
        if fields_left_out:
            summary["fields_left_out"] = fields_left_out
        return summary

    def _pointer(self, class_name: Any, object_id: Any) -> tuple[str, str]:
        """A Pointer inside an installation's custom fields: its class's collection and imported id."""
        if not isinstance(class_name, str) or not re.fullmatch(_CLASS, class_name) or not isinstance(object_id, str):
            raise ValueError("not a pointer")
        collection = self.names.get(class_name) or collection_name(class_name)
        return collection, self.id(class_name, object_id)


def _spool(open_source: Callable[[], BinaryIO]) -> BinaryIO:
    spool = tempfile.TemporaryFile(prefix="basalt-parse-")
    source = open_source()
    limit = settings.IMPORT_MAX_ARCHIVE_BYTES
    try:
        archive.copy_bounded(
            source, spool, limit, lambda: refuse("too_large", f"The export is larger than {limit} bytes.")
        )
    finally:
        close = getattr(source, "close", None)
        if close:
            close()
    spool.seek(0)
    return spool


def _file_name(value: dict[str, Any]) -> Any:
    """A File's Parse name, or the last segment of its URL when an export kept only that."""
    name = value.get("name")
    if name is None and isinstance(value.get("url"), str):
        name = unquote(urlsplit(value["url"]).path.rsplit("/", 1)[-1])
    return name


def import_parse(
    project: Project,
    open_source: Callable[[], BinaryIO],
    progress=None,
    files: parse_files.FileSource | None = None,
) -> dict[str, Any]:
    """Translate the Parse export into a Basalt archive, then import that (all or nothing).

    `files` says where the bytes of File values are (parse_files.py); without it, File fields
    keep the file's URL as text."""
    importing.check_empty(project)
    if files is not None:
        files.check()
    file_bytes = parse_files.FileBytes(files, files_config(project)) if files is not None else None
    with (
        _spool(open_source) as spool,
        tempfile.TemporaryFile(prefix="basalt-parse-archive-") as converted,
        contextlib.closing(file_bytes) if file_bytes else contextlib.nullcontext(),
    ):
        export = ParseExport(spool)
        converter = Converter(export, secrets.token_bytes(32), file_bytes)
        converter.infer()
        if progress:
            progress("parse.schema", len(converter.classes))
        writer = archive.ArchiveWriter(converted)
        summary = converter.write(writer)
        writer.close()

        def reopen() -> BinaryIO:
            converted.seek(0)
            return io.BufferedReader(_Keep(converted))

        users = {row.get("objectId") for row in export.rows("_User")} if "_User" in converter.classes else set()
        found, left_out = parse_sessions.read(
            export.rows("_Session") if "_Session" in export.files else [],
            lambda object_id: converter.id("_User", object_id) if object_id in users else None,
        )
        written: dict[str, int] = {}

        def finish(importer: importing.Importer) -> None:
            written["imported"] = parse_sessions.write(importer.project, found, importer.ids)

        result = importing.import_archive(project, reopen, progress, finish=finish)
    if "_Session" in export.files:
        summary["sessions"] = {"imported": written.get("imported", 0), "left_out": left_out}
    return {**result, **summary}


class _Keep(io.RawIOBase):
    def __init__(self, raw: BinaryIO):
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:  # the temporary file outlives one import pass
        pass

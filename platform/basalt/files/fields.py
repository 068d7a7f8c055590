"""`file` fields of documents: checked to name a ready file of the project when written, and rendered
per caller as the file's metadata (if they may read the file) or the id alone."""

from __future__ import annotations

from typing import Any

from basalt.core.caller import Caller
from basalt.documents.access import can_read
from basalt.documents.cache import Schema
from basalt.documents.render import CallerRenderer
from basalt.files.models import File
from basalt.files.services import content_url


def _file_fields(schema: Schema) -> list[str]:
    return [name for name, (field_type, _options) in schema.fields.items() if field_type.name == "file"]


def _file_arrays(schema: Schema) -> list[str]:
    names = []
    for name, (field_type, options) in schema.fields.items():
        items = options.get("items") if field_type.name == "array" else None
        if (items.get("type") if isinstance(items, dict) else items) == "file":
            names.append(name)
    return names


class FileFields(CallerRenderer):
    """REST reads, writes' answers, expand and realtime payloads all render `file` fields through this."""

    def concerns(self, schema: Schema) -> bool:
        return bool(_file_fields(schema))

    def prefetch(self, project_id: int, schema: Schema, bodies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The ready files the bodies name: {id: {metadata…, "_readers": read principals}} (one query)."""
        names = _file_fields(schema)
        ids = {body[name] for body in bodies for name in names if isinstance(body.get(name), str)}
        if not ids:
            return {}
        rows = File.objects.filter(project_id=project_id, pk__in=ids, status=File.READY)
        return {
            row["id"]: {
                "id": row["id"],
                "name": row["name"],
                "url": content_url(row["id"]),
                "content_type": row["content_type"],
                "size": row["size"],
                "_readers": row["read_principals"],
            }
            for row in rows.values("id", "name", "content_type", "size", "read_principals")
        }

    def apply(
        self, caller: Caller, schema: Schema, bodies: list[dict[str, Any]], found: dict[str, dict[str, Any]]
    ) -> None:
        if not found:
            return
        names = _file_fields(schema)
        # The same decision as the files API's read filter (`access.readable`): the file's read ACL.
        shown = {
            file_id: {key: value for key, value in meta.items() if key != "_readers"}
            for file_id, meta in found.items()
            if can_read(caller, meta["_readers"])
        }
        for body in bodies:
            for name in names:
                value = body.get(name)
                if isinstance(value, str) and value in shown:
                    body[name] = dict(shown[value])


def check_file_references(
    project_id: int, schema: Schema, data: dict[str, Any], names: set[str] | None
) -> dict[str, list[str]]:
    """A written `file` field (or array of files) must name a ready file of this project: an unknown,
    deleted, pending or other project's id is a 400 at write time, not a dangling reference."""
    wanted: dict[str, list[str]] = {}
    for name in _file_fields(schema):
        if (names is None or name in names) and isinstance(data.get(name), str):
            wanted[name] = [data[name]]
    for name in _file_arrays(schema):
        if (names is None or name in names) and isinstance(data.get(name), list):
            wanted[name] = [item for item in data[name] if isinstance(item, str)]
    ids = {file_id for values in wanted.values() for file_id in values}
    if not ids:
        return {}
    present = set(
        File.objects.filter(project_id=project_id, pk__in=ids, status=File.READY).values_list("id", flat=True)
    )
    errors: dict[str, list[str]] = {}
    for name, values in wanted.items():
        missing = [file_id for file_id in values if file_id not in present]
        if missing:
            errors[name] = [f"No file with id {missing[0]!r} in this project (upload it first)."]
    return errors


file_fields = FileFields()

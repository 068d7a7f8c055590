"""Render `file` fields of documents for one caller: the file's metadata if they may read it, else the id."""

from __future__ import annotations

from typing import Any

from basalt.core.caller import Caller
from basalt.documents.cache import Schema
from basalt.files.access import readable
from basalt.files.models import File
from basalt.files.services import content_url


def render_file_fields(caller: Caller, schema: Schema, bodies: list[dict[str, Any]]) -> None:
    names = [name for name, (field_type, _options) in schema.fields.items() if field_type.name == "file"]
    if not names or not bodies:
        return
    ids = {body[name] for body in bodies for name in names if isinstance(body.get(name), str)}
    if not ids:
        return
    rows = readable(caller, File.objects.filter(project_id=caller.project.pk, pk__in=ids, status=File.READY))
    shown = {
        row["id"]: {
            "id": row["id"],
            "name": row["name"],
            "url": content_url(row["id"]),
            "content_type": row["content_type"],
            "size": row["size"],
        }
        for row in rows.values("id", "name", "content_type", "size")
    }
    for body in bodies:
        for name in names:
            value = body.get(name)
            if isinstance(value, str) and value in shown:
                body[name] = dict(shown[value])

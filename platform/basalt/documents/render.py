"""Render stored documents for clients: system fields, declared fields only, hidden fields left out."""

from __future__ import annotations

from typing import Any

from basalt.core.caller import Caller
from basalt.documents.cache import Schema
from basalt.documents.store import format_time


class CallerRenderer:
    """An area that renders a field type by the caller's access to something else (files: a `file`
    field reads as {id, name, url, content_type, size} to who may read the file, the id otherwise).

    Two steps, so the same rendering serves REST and realtime: `prefetch` reads what the bodies
    reference (one query for every body of one schema at once, not one per document), and `apply`
    decides per caller in memory; a realtime fan-out prefetches once per change and applies once per
    principal set."""

    def concerns(self, schema: Schema) -> bool:
        """Whether bodies of this schema can need this renderer (no database work)."""
        raise NotImplementedError

    def prefetch(self, project_id: int, schema: Schema, bodies: list[dict[str, Any]]) -> Any:
        raise NotImplementedError

    def apply(self, caller: Caller, schema: Schema, bodies: list[dict[str, Any]], found: Any) -> None:
        raise NotImplementedError


CALLER_RENDERERS: list[CallerRenderer] = []


def concerned(schema: Schema) -> bool:
    """Whether rendering bodies of this schema for a caller needs a `prefetch` (a database read)."""
    return any(hook.concerns(schema) for hook in CALLER_RENDERERS)


def prefetch(project_id: int, schema: Schema, bodies: list[dict[str, Any]]) -> list[Any]:
    """What every caller-aware renderer needs for these bodies (database work; before `apply`)."""
    return [hook.prefetch(project_id, schema, bodies) for hook in CALLER_RENDERERS]


def apply(caller: Caller, schema: Schema, bodies: list[dict[str, Any]], found: list[Any]) -> list[dict[str, Any]]:
    """Render the bodies for one caller from prefetched data (in memory; bodies are changed in place)."""
    for hook, data in zip(CALLER_RENDERERS, found, strict=True):
        hook.apply(caller, schema, bodies, data)
    return bodies


def for_caller(caller: Caller, schema: Schema, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return apply(caller, schema, bodies, prefetch(caller.project.pk, schema, bodies))


def render(schema: Schema, row: Any, hidden: frozenset[str] = frozenset(), only: Any = None) -> dict[str, Any]:
    """`row` is any object with id/data/acl/created_at/updated_at (ours or the query engine's DocRow)."""
    created_at = format_time(row.created_at)
    out: dict[str, Any] = {
        "id": row.id,
        "created_at": created_at,
        # Most documents were never updated: their one time is formatted once.
        "updated_at": created_at if row.updated_at == row.created_at else format_time(row.updated_at),
        "acl": row.acl,
    }
    data = row.data
    # Fields removed from the schema are never rendered, even before purge.py has erased their values.
    for name, unchanged, field_type, options in schema.rendered_fields:
        if name not in data or name in hidden or (only is not None and name not in only):
            continue
        value = data[name]
        out[name] = value if type(value) in unchanged else field_type.to_client(value, options)
    return out


def etag(version: int) -> str:
    return f'"{version}"'


def etag_matches(header: str | None, version: int) -> bool:
    """True when an If-Match / If-None-Match header names this version (or is `*`)."""
    if not header:
        return False
    wanted = etag(version)
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate in ("*", wanted):
            return True
    return False

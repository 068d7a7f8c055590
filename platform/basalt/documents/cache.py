"""Per-process schema cache keyed by (project, schema_version): a warm document read costs no schema query."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from basalt.core.errors import NotFound
from basalt.documents.fields import FieldType, get_field_type
from basalt.documents.models import Collection, CollectionIndex
from basalt.projects.models import Project

# Past this many projects the cache starts over rather than growing without bound.
MAX_PROJECTS = 5000


@dataclass(frozen=True)
class Schema:
    """A collection with its field types resolved once, shared read-only between requests."""

    collection: Collection
    fields: dict[str, tuple[FieldType, dict[str, Any]]]
    unique_indexes: tuple[tuple[str, ...], ...]
    # Database index name → fields, to name the field in a unique_violation.
    unique_by_db_name: dict[str, tuple[str, ...]]
    # Unique indexes whose database index is built and valid (status `ready`): the database
    # enforces these; the others (pending, building, failed) are checked by the write service.
    ready_unique: frozenset[tuple[str, ...]] = frozenset()

    @property
    def name(self) -> str:
        return self.collection.name

    @cached_property
    def rendered_fields(self) -> tuple[tuple[str, frozenset[type], FieldType, dict[str, Any]], ...]:
        """(name, types rendered unchanged, type, options) of each field kept in `data`, for render()."""
        return tuple(
            (name, field_type.unchanged_types, field_type, options)
            for name, (field_type, options) in self.fields.items()
            if field_type.stored_in_data
        )


def build_schema(
    collection: Collection,
    unique_rows: dict[str, tuple[str, ...]] | None = None,
    ready_unique: frozenset[tuple[str, ...]] = frozenset(),
) -> Schema:
    fields = {name: (get_field_type(d["type"]), d) for name, d in (collection.fields or {}).items()}
    unique = tuple(
        tuple(name.lstrip("-") for name in index["fields"]) for index in collection.indexes or () if index.get("unique")
    )
    return Schema(
        collection=collection,
        fields=fields,
        unique_indexes=unique,
        unique_by_db_name=unique_rows or {},
        ready_unique=ready_unique,
    )


_entries: dict[int, tuple[str, int, dict[str, Schema]]] = {}
_lock = threading.Lock()


def _load(project: Project) -> dict[str, Schema]:
    schemas = {}
    names: dict[int, dict[str, tuple[str, ...]]] = {}
    ready: dict[int, set[tuple[str, ...]]] = {}
    rows = CollectionIndex.objects.filter(collection__project_id=project.id, unique=True).values_list(
        "collection_id", "db_name", "fields", "status"
    )
    for collection_id, db_name, fields, status in rows:
        bare = tuple(name.lstrip("-") for name in fields)
        names.setdefault(collection_id, {})[db_name] = bare
        if status == CollectionIndex.READY:
            ready.setdefault(collection_id, set()).add(bare)
    for collection in Collection.objects.filter(project_id=project.id):
        collection.project = project  # spares a query when code follows the relation
        schemas[collection.name] = build_schema(
            collection, names.get(collection.id), frozenset(ready.get(collection.id, ()))
        )
    return schemas


def project_schemas(project: Project) -> dict[str, Schema]:
    entry = _entries.get(project.id)
    # The ref guards against reused ids (SQLite after a rollback), the version against stale schema.
    if entry is None or entry[0] != project.ref or entry[1] != project.schema_version:
        entry = (project.ref, project.schema_version, _load(project))
        with _lock:
            if len(_entries) >= MAX_PROJECTS:
                _entries.clear()
            _entries[project.id] = entry
    return entry[2]


def schema_for(project: Project, name: Any) -> Schema:
    """The named collection of the project, or not_found."""
    schema = project_schemas(project).get(name) if isinstance(name, str) else None
    if schema is None:
        raise NotFound("Collection not found.")
    return schema


def forget(project_id: int) -> None:
    _entries.pop(project_id, None)

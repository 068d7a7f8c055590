"""Collection (schema) operations for the management API and secret keys; every schema rule lives here."""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from basalt.core.errors import Conflict, NotFound, ValidationFailed
from basalt.core.ids import random_id
from basalt.documents import cache, purge, schema
from basalt.documents.builtin import check_builtin_schema
from basalt.documents.fields import get_field_type
from basalt.documents.fields.date import format_instant
from basalt.documents.models import Collection, CollectionIndex
from basalt.projects.models import Project

logger = logging.getLogger("basalt.documents")
MAX_COLLECTIONS = 1000


def _index_jobs():
    """The index builder (imported late: it pulls in the query engine's dialects)."""
    from basalt.documents import indexes

    return indexes


def collection_out(collection: Collection, index_rows: list[CollectionIndex] | None = None) -> dict[str, Any]:
    statuses = {}
    for row in index_rows or ():
        statuses[(tuple(row.fields), row.unique)] = row.status
    return {
        "name": collection.name,
        "fields": collection.fields,
        "indexes": [
            {**index, "status": statuses.get((tuple(index["fields"]), index["unique"]), CollectionIndex.PENDING)}
            for index in collection.indexes
        ],
        "permissions": collection.permissions,
        "protected_fields": collection.protected_fields,
        "default_acl": collection.default_acl,
        "builtin": collection.builtin,
        "created_at": format_instant(collection.created_at),
        "updated_at": format_instant(collection.updated_at),
    }


def _live_index_rows(collection: Collection) -> list[CollectionIndex]:
    return list(collection.index_rows.exclude(status=CollectionIndex.DROPPING).order_by("id"))


def describe(collection: Collection) -> dict[str, Any]:
    return collection_out(collection, _live_index_rows(collection))


def list_collections(project: Project) -> list[dict[str, Any]]:
    collections = list(Collection.objects.filter(project=project).order_by("name"))
    rows: dict[int, list[CollectionIndex]] = {}
    for row in CollectionIndex.objects.filter(collection__project=project).exclude(status=CollectionIndex.DROPPING):
        rows.setdefault(row.collection_id, []).append(row)
    return [collection_out(c, rows.get(c.id, [])) for c in collections]


def get_collection(project: Project, name: Any) -> Collection:
    collection = Collection.objects.filter(project=project, name=name).first() if isinstance(name, str) else None
    if collection is None:
        raise NotFound("Collection not found.")
    return collection


def _lock_project(project: Project) -> Project:
    """Schema changes of one project run one at a time, so none overwrites another's."""
    return Project.objects.select_for_update().get(pk=project.pk)


def _bump(project: Project) -> None:
    Project.objects.filter(pk=project.pk).update(schema_version=F("schema_version") + 1)
    project.refresh_from_db(fields=["schema_version"])
    transaction.on_commit(lambda: cache.forget(project.pk))


def _body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ValidationFailed(details={"body": ["Must be a JSON object."]})
    unknown = set(body) - schema.TOP_LEVEL_KEYS
    if unknown:
        raise ValidationFailed(details={str(sorted(unknown)[0])[:80]: ["Unknown collection property."]})
    return body


def _sync_indexes(collection: Collection, declared: list[dict[str, Any]], retry: bool = False) -> None:
    """Create rows (and builds) for new index declarations and drop the ones no longer declared.

    With `retry` (the request restated `indexes`), declarations whose build failed or never ran
    (a lost job) are queued again; a build already running is not disturbed (indexes._build_lock)."""
    jobs = _index_jobs()
    existing = {(tuple(r.fields), r.unique): r for r in _live_index_rows(collection)}
    wanted = {(tuple(i["fields"]), i["unique"]) for i in declared}
    for key, row in existing.items():
        if key in wanted and retry and row.status != CollectionIndex.READY:
            if row.status == CollectionIndex.FAILED:
                row.status, row.updated_at = CollectionIndex.PENDING, timezone.now()
                row.save(update_fields=["status", "updated_at"])
            transaction.on_commit(lambda row_id=row.id: jobs.schedule_index_build(row_id))
        if key not in wanted:
            row.status = CollectionIndex.DROPPING
            row.updated_at = timezone.now()
            row.save(update_fields=["status", "updated_at"])
            transaction.on_commit(lambda row_id=row.id: jobs.schedule_index_drop(row_id))
    for fields, unique in wanted - set(existing):
        row = CollectionIndex.objects.create(
            collection=collection, db_name=f"bx_{collection.id}_{random_id(12)}", fields=list(fields), unique=unique
        )
        transaction.on_commit(lambda row_id=row.id: jobs.schedule_index_build(row_id))


@transaction.atomic
def create_collection(project: Project, body: Any, *, builtin: bool = False) -> dict[str, Any]:
    body = _body(body)
    name = schema.check_name(body.get("name"))
    if name in schema.BUILTIN_NAMES and not builtin:
        raise ValidationFailed(details={"name": [f"{name!r} is reserved for a built-in collection."]})
    fields = schema.validate_fields(body.get("fields", {}))
    indexes = schema.validate_indexes(body.get("indexes", []), fields)
    permissions = schema.validate_permissions(body.get("permissions", {}), fields)
    protected = schema.validate_protected_fields(body.get("protected_fields", {}), fields)
    default_acl = schema.validate_default_acl(body.get("default_acl", "owner"))
    schema.check_unique_unprotected(fields, indexes, protected)
    project = _lock_project(project)
    names = set(Collection.objects.filter(project=project).values_list("name", flat=True))
    if name in names:
        raise Conflict(f"A collection named {name!r} already exists.")
    if len(names) >= MAX_COLLECTIONS:
        raise Conflict(f"A project holds at most {MAX_COLLECTIONS} collections.")
    schema.check_targets(fields, names | {name})
    collection = Collection.objects.create(
        project=project,
        name=name,
        fields=fields,
        indexes=indexes,
        permissions=permissions,
        protected_fields=protected,
        default_acl=default_acl,
        builtin=builtin,
    )
    _sync_indexes(collection, indexes)
    _bump(project)
    return describe(collection)


def update_collection(project: Project, name: Any, body: Any) -> dict[str, Any]:
    """PATCH: `fields` merges (a null definition removes the field); the other keys replace."""
    try:
        return _update_collection(project, name, body)
    except purge.StillPurging as refusal:
        # After the rollback: a purge lost with a broker outage or a restart resumes when
        # someone wants the name back.
        for purge_id in refusal.purge_ids:
            purge.schedule(purge_id)
        raise


@transaction.atomic
def _update_collection(project: Project, name: Any, body: Any) -> dict[str, Any]:
    body = _body(body)
    if "name" in body and body["name"] != name:
        raise ValidationFailed(details={"name": ["Collections cannot be renamed."]})
    project = _lock_project(project)
    collection = get_collection(project, name)
    collection = Collection.objects.select_for_update().get(pk=collection.pk)
    fields = dict(collection.fields)
    validated: dict[str, dict[str, Any]] = {}
    removed: list[str] = []
    if "fields" in body:
        changes = body["fields"]
        if not isinstance(changes, dict):
            raise ValidationFailed(details={"fields": ["Must be an object; a null definition removes a field."]})
        additions = {key: value for key, value in changes.items() if value is not None}
        for key, value in changes.items():
            if value is None:
                if collection.builtin and key in fields and fields[key].get("builtin"):
                    raise ValidationFailed(details={f"fields.{key}": ["A built-in field cannot be removed."]})
                if fields.pop(key, None) is not None:
                    removed.append(key)
        validated = schema.validate_fields(additions)
        purge.refuse_pending(collection.id, set(validated) - set(collection.fields))
        for key, definition in validated.items():
            if key in fields and fields[key]["type"] != definition["type"]:
                raise ValidationFailed(
                    details={f"fields.{key}": ["A field's type cannot change; remove it and add a new field."]}
                )
            if key in fields and fields[key].get("builtin"):
                definition["builtin"] = True
            fields[key] = definition
        if len(fields) > schema.MAX_FIELDS:
            raise ValidationFailed(details={"fields": [f"At most {schema.MAX_FIELDS} fields."]})
    indexes = schema.validate_indexes(body.get("indexes", collection.indexes), fields)
    permissions = schema.validate_permissions(body.get("permissions", collection.permissions), fields)
    protected = schema.validate_protected_fields(body.get("protected_fields", collection.protected_fields), fields)
    default_acl = schema.validate_default_acl(body.get("default_acl", collection.default_acl))
    schema.check_unique_unprotected(fields, indexes, protected)
    check_builtin_schema(collection, collection.fields, fields, protected)
    names = set(Collection.objects.filter(project=project).values_list("name", flat=True))
    schema.check_targets(validated, names)
    for key in removed:
        # Hidden from reads at once; the values themselves go in the background (purge.py).
        purge.start(collection.id, key, get_field_type(collection.fields[key]["type"]).stored_in_data)
    collection.fields, collection.indexes = fields, indexes
    collection.permissions, collection.protected_fields, collection.default_acl = permissions, protected, default_acl
    collection.updated_at = timezone.now()
    collection.save()
    _sync_indexes(collection, indexes, retry="indexes" in body)
    _bump(project)
    return describe(collection)


@transaction.atomic
def delete_collection(project: Project, name: Any) -> None:
    project = _lock_project(project)
    collection = get_collection(project, name)
    if collection.builtin:
        raise Conflict("A built-in collection cannot be deleted.")
    jobs = _index_jobs()
    rows = _live_index_rows(collection)
    # Per-collection partial indexes die with the collection; named now because the rows go too.
    jobs.drop_indexes_now([row.db_name for row in rows])
    with connection.cursor() as cursor:
        # Set-based deletes: the ORM's cascade would load every document of the collection first.
        cursor.execute("DELETE FROM basalt_relation WHERE collection_id = %s", [collection.id])
        cursor.execute("DELETE FROM basalt_document WHERE collection_id = %s", [collection.id])
        cursor.execute("DELETE FROM basalt_collection_index WHERE collection_id = %s", [collection.id])
        cursor.execute("DELETE FROM basalt_field_purge WHERE collection_id = %s", [collection.id])
        cursor.execute("DELETE FROM basalt_saved_view WHERE collection_id = %s", [collection.id])
        cursor.execute("DELETE FROM basalt_collection WHERE id = %s", [collection.id])
    _bump(project)

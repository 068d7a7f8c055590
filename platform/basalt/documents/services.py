"""Document operations (API.md §3): one function per operation, each owning its transaction and checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import NotFound, PermissionDenied, PreconditionFailed, UniqueViolation
from basalt.documents import access, builtin, store
from basalt.documents.cache import Schema, schema_for
from basalt.documents.models import ChangeLogEntry, new_document_id
from basalt.documents.render import etag_matches, render
from basalt.documents.store import StoredDoc
from basalt.documents.writes import Changes, apply_update, prepare_create

# Ids we mint are [a-z0-9]{20}; anything else cannot name a document, so it is not looked up.
DOC_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SQLITE_INDEX = re.compile(r"index '([^']+)'")


@dataclass(frozen=True)
class Result:
    body: dict[str, Any]
    version: int


def _check_id(doc_id: Any) -> str:
    if not isinstance(doc_id, str) or not DOC_ID.match(doc_id):
        raise NotFound("Document not found.")
    return doc_id


def _op_possible(caller: Caller, schema: Schema, op: str) -> bool:
    """Whether the op can be allowed for some document; if not, refuse before touching rows."""
    collection = schema.collection
    if access.can_collection_op(caller, collection, op):
        return True
    if not access.pointer_grants(caller, collection, op):
        raise PermissionDenied(f"This key may not {op} documents of {collection.name!r}.")
    return False


def _unique_error(schema: Schema, exc: IntegrityError) -> UniqueViolation | None:
    cause = exc.__cause__
    name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    if name is None:
        match = _SQLITE_INDEX.search(str(exc))
        name = match.group(1) if match else None
    fields = schema.unique_by_db_name.get(name or "")
    if fields is None:
        return None
    return UniqueViolation(details={field: ["A document with this value already exists."] for field in fields})


def _check_unique(schema: Schema, data: dict[str, Any], doc_id: str | None, touched: set[str] | None) -> None:
    """SQLite: test declared unique indexes inside the (serialised) write transaction.

    PostgreSQL enforces them with the unique partial expression indexes themselves."""
    if store.is_postgres():
        return
    for fields in schema.unique_indexes:
        if touched is not None and not touched.intersection(fields):
            continue
        values = {name: data.get(name) for name in fields}
        # Like SQL unique indexes: a missing value never conflicts; system fields are unique enough.
        if any(value is None for value in values.values()) or set(fields) & {"id", "created_at", "updated_at"}:
            continue
        if store.value_taken(schema.collection.id, values, doc_id):
            raise UniqueViolation(details={name: ["A document with this value already exists."] for name in fields})


def _write_edges(caller: Caller, schema: Schema, doc_id: str, changes: Changes) -> None:
    for field, ids in changes.add_edges.items():
        store.add_relations(caller.project.id, schema.collection.id, field, doc_id, ids)
    for field, ids in changes.remove_edges.items():
        store.remove_relations(schema.collection.id, field, doc_id, ids)


def _run_write(schema: Schema, work):
    try:
        with transaction.atomic():
            return work()
    except IntegrityError as exc:
        error = _unique_error(schema, exc)
        if error is None:
            raise
        raise error from None


def check_create(caller: Caller, schema: Schema, body: Any) -> Changes:
    """The rules of a create: field types, the create permission and protected fields.

    Identity applies them to the custom fields sent with a sign-up, whose `users` document it
    writes itself, so a sign-up can set nothing a create through this area could not."""
    collection = schema.collection
    changes = prepare_create(schema, body)
    if not access.can_collection_op(caller, collection, "create", changes.data):
        raise PermissionDenied(f"This key may not create documents in {collection.name!r}.")
    builtin.refuse_server_fields(collection, body, access.hidden_fields(caller, collection))
    return changes


def create_document(caller: Caller, name: Any, body: Any) -> Result:
    schema = schema_for(caller.project, name)
    collection = schema.collection
    builtin.refuse_create(collection)
    changes = check_create(caller, schema, body)
    acl = access.validate_acl(changes.acl) if changes.acl_given else access.default_acl(collection.default_acl, caller)
    readers, writers = access.acl_principals(acl)
    now = timezone.now()
    doc = StoredDoc(
        id=new_document_id(),
        data=changes.data,
        acl=acl,
        read_principals=readers,
        write_principals=writers,
        created_by=caller.user_id,
        created_at=now,
        updated_at=now,
        version=1,
    )
    full = render(schema, doc)

    def work() -> None:
        _check_unique(schema, doc.data, None, None)
        store.insert(doc, caller.project.id, collection.id)
        _write_edges(caller, schema, doc.id, changes)
        store.append_change(caller.project.id, collection.name, doc.id, ChangeLogEntry.CREATE, None, full, now)

    _run_write(schema, work)
    hidden = access.hidden_fields(caller, collection)
    body_out = {k: v for k, v in full.items() if k not in hidden} if hidden else full
    return Result(body=body_out, version=1)


def _readable(caller: Caller, schema: Schema, doc: StoredDoc, op: str, via_pointer: bool) -> bool:
    if via_pointer and not access.can_collection_op(caller, schema.collection, op, doc.data):
        return False
    return access.can_read(caller, doc.read_principals)


def get_document(caller: Caller, name: Any, doc_id: Any, *, fields: Any = None, expand: Any = None) -> Result:
    schema = schema_for(caller.project, name)
    doc_id = _check_id(doc_id)
    direct = _op_possible(caller, schema, "get")
    doc = store.fetch(schema.collection.id, doc_id)
    if doc is None or not _readable(caller, schema, doc, "get", not direct):
        raise NotFound("Document not found.")
    body = render(schema, doc, access.hidden_for(caller, schema.collection, doc.id), fields)
    if expand:
        from basalt.documents.expand import expand_documents

        expand_documents(caller, schema, [body], expand)
    return Result(body=body, version=doc.version)


def _locked_for_write(
    caller: Caller, schema: Schema, doc_id: str, op: str, direct: bool, doc: StoredDoc | None, if_match: str | None
) -> StoredDoc:
    """404 when the caller may neither read nor write it, 403 when readable only, 412 on a stale If-Match."""
    if doc is None:
        raise NotFound("Document not found.")
    readable = access.can_read(caller, doc.read_principals)
    allowed = direct or access.can_collection_op(caller, schema.collection, op, doc.data)
    if not allowed or not access.can_write(caller, doc.write_principals):
        if readable and (direct or access.can_collection_op(caller, schema.collection, "get", doc.data)):
            raise PermissionDenied(f"This key may not {op} this document.")
        raise NotFound("Document not found.")
    if if_match is not None and not etag_matches(if_match, doc.version):
        raise PreconditionFailed()
    return doc


def update_document(caller: Caller, name: Any, doc_id: Any, body: Any, *, if_match: str | None = None) -> Result:
    schema = schema_for(caller.project, name)
    collection = schema.collection
    doc_id = _check_id(doc_id)
    direct = _op_possible(caller, schema, "update")

    def work() -> Result:
        # FOR UPDATE (PostgreSQL) / the IMMEDIATE transaction (SQLite) makes read-modify-write atomic,
        # so concurrent increments and add_unique never lose or duplicate.
        current = store.fetch(collection.id, doc_id, for_update=True)
        doc = _locked_for_write(caller, schema, doc_id, "update", direct, current, if_match)
        # After the access check, so callers who may not write it still get their 403/404.
        hidden = access.hidden_for(caller, collection, doc.id)
        body_left = builtin.refuse_identity_fields(collection, body, doc.data, doc.acl, hidden)
        builtin.refuse_server_fields(collection, body_left, access.hidden_fields(caller, collection))
        changes = apply_update(schema, doc.data, body_left)
        before = render(schema, doc)
        if changes.acl_given:
            doc.acl = access.validate_acl(changes.acl)
            doc.read_principals, doc.write_principals = access.acl_principals(doc.acl)
        doc.data = changes.data
        doc.version += 1
        doc.updated_at = timezone.now()
        _check_unique(schema, doc.data, doc.id, changes.touched)
        store.update(doc, collection.id)
        _write_edges(caller, schema, doc.id, changes)
        after = render(schema, doc)
        store.append_change(
            caller.project.id, collection.name, doc.id, ChangeLogEntry.UPDATE, before, after, doc.updated_at
        )
        return Result(body=after, version=doc.version)

    result = _run_write(schema, work)
    hidden = access.hidden_for(caller, collection, result.body["id"])
    if hidden:
        result = Result(body={k: v for k, v in result.body.items() if k not in hidden}, version=result.version)
    return result


def delete_document(caller: Caller, name: Any, doc_id: Any, *, if_match: str | None = None) -> None:
    schema = schema_for(caller.project, name)
    collection = schema.collection
    doc_id = _check_id(doc_id)
    builtin.refuse_delete(collection)
    direct = _op_possible(caller, schema, "delete")
    has_relations = any(not field_type.stored_in_data for field_type, _ in schema.fields.values())

    def work() -> None:
        # Delete-and-return in one statement; a failed check below rolls the delete back.
        doc = store.delete_returning(collection.id, doc_id)
        _locked_for_write(caller, schema, doc_id, "delete", direct, doc, if_match)
        if has_relations:
            store.remove_all_relations(collection.id, doc_id)
        store.append_change(
            caller.project.id, collection.name, doc_id, ChangeLogEntry.DELETE, render(schema, doc), None, timezone.now()
        )

    _run_write(schema, work)

"""Document operations (API.md §3): one function per operation, each owning its transaction and checks."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection
from django.utils import timezone

from basalt.core.caller import Caller
from basalt.core.errors import NotFound, PermissionDenied, PreconditionFailed, UniqueViolation, ValidationFailed
from basalt.documents import access, builtin, changefeed, statistics, store
from basalt.documents.cache import Schema, schema_for
from basalt.documents.models import ChangeLogEntry, new_document_id
from basalt.documents.render import etag_matches, for_caller, render
from basalt.documents.store import StoredDoc
from basalt.documents.writes import Changes, apply_update, check_references, prepare_create

# Ids we mint are [a-z0-9]{20}; anything else cannot name a document, so it is not looked up.
DOC_ID = re.compile(r"\A[A-Za-z0-9_-]{1,32}\Z")
_SQLITE_INDEX = re.compile(r"index '([^']+)'")


@dataclass(frozen=True)
class Result:
    """A rendered document, or (version None) a write receipt for a caller who may not read it."""

    body: dict[str, Any]
    version: int | None


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
    """Enforce declared unique indexes the database does not enforce (yet), inside the write transaction.

    SQLite: all of them (IMMEDIATE transactions serialise writers). PostgreSQL: those whose index
    is not built and valid yet (pending, building, failed), each under a transaction-scoped
    advisory lock so two writers cannot both pass the check; once `ready`, the unique partial
    expression index itself enforces it. So a unique index never accepts a duplicate while it
    is being built, and the build never meets one written meanwhile."""
    postgres = store.is_postgres()
    for fields in schema.unique_indexes:
        if postgres and fields in schema.ready_unique:
            continue
        if touched is not None and not touched.intersection(fields):
            continue
        values = {name: data.get(name) for name in fields}
        # Like SQL unique indexes: a missing value never conflicts; system fields are unique enough.
        if any(value is None for value in values.values()) or set(fields) & {"id", "created_at", "updated_at"}:
            continue
        if postgres:
            store.lock_unique(schema.collection.id, fields)
        if store.value_taken(schema.collection.id, values, doc_id):
            raise UniqueViolation(details={name: ["A document with this value already exists."] for name in fields})


# A btree entry holds at most ~2.7 kB on PostgreSQL: past it the insert (or the index build) fails
# with a database error. Refuse such values up front, on every database, with a clear 400.
MAX_INDEXED_BYTES = 2000


def _check_index_sizes(schema: Schema, data: dict[str, Any], touched: set[str] | None) -> None:
    errors: dict[str, list[str]] = {}
    for index in schema.collection.indexes or ():
        names = [entry.lstrip("-") for entry in index["fields"]]
        if touched is not None and not touched.intersection(names):
            continue
        size = sum(len(store.dump(data[name]).encode()) for name in names if name in data)
        if size > MAX_INDEXED_BYTES:
            for name in names:
                if name in data:
                    errors[name] = [f"Too large for this field's index (at most {MAX_INDEXED_BYTES} bytes)."]
    if errors:
        raise ValidationFailed(details=errors)


def _write_edges(caller: Caller, schema: Schema, doc_id: str, changes: Changes) -> None:
    for field, ids in changes.add_edges.items():
        store.add_relations(caller.project.id, schema.collection.id, field, doc_id, ids)
    for field, ids in changes.remove_edges.items():
        store.remove_relations(schema.collection.id, field, doc_id, ids)


def _run_write(schema: Schema, work):
    with _unique_errors(schema), changefeed.write_transaction():
        return work()


@contextmanager
def _unique_errors(schema: Schema) -> Iterator[None]:
    """A unique index's refusal, as the field's validation error."""
    try:
        yield
    except IntegrityError as exc:
        error = _unique_error(schema, exc)
        if error is None:
            raise
        raise error from None


def _one_statement_create(schema: Schema, changes: Changes) -> bool:
    """Whether a create may run as one autocommitted statement: `_one_statement_write`, and no
    relation edges to write."""
    return _one_statement_write(schema) and not changes.add_edges and not changes.remove_edges


def _one_statement_write(schema: Schema) -> bool:
    """Whether a write may be one autocommitted statement: PostgreSQL with no transaction open, and no
    unique index left for `_check_unique` to enforce."""
    return changefeed.may_write_alone() and all(fields in schema.ready_unique for fields in schema.unique_indexes)


def _one_statement_in_transaction(schema: Schema, changes: Changes) -> bool:
    """Whether a create inside an open transaction may be one statement without a savepoint:
    PostgreSQL, no unique index on the collection (whose refusal must leave the transaction usable),
    no relation edges to write."""
    return (
        connection.vendor == "postgresql"
        and connection.in_atomic_block
        and not schema.unique_indexes
        and not changes.add_edges
        and not changes.remove_edges
    )


def check_create(caller: Caller, schema: Schema, body: Any) -> Changes:
    """The rules of a create: field types, the create permission and protected fields.

    Identity applies them to the custom fields sent with a sign-up, whose `users` document it
    writes itself, so a sign-up can set nothing a create through this area could not."""
    collection = schema.collection
    changes = prepare_create(schema, body)
    if not access.can_collection_op(caller, collection, "create", changes.data):
        raise PermissionDenied(f"This key may not create documents in {collection.name!r}.")
    builtin.refuse_server_fields(collection, body, access.hidden_fields(caller, collection))
    # After the permission check: a caller who may not create learns nothing about which ids exist.
    check_references(caller.project.id, schema, changes.data, None)
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

    _check_index_sizes(schema, doc.data, None)

    def work() -> None:
        _check_unique(schema, doc.data, None, None)
        store.insert(doc, caller.project.id, collection.id)
        _write_edges(caller, schema, doc.id, changes)
        store.append_change(
            caller.project.id, collection.name, doc.id, ChangeLogEntry.CREATE, None, full, now, last=True
        )

    if _one_statement_create(schema, changes):
        # Nothing to check or write beside the document and its change-log row: one statement that
        # commits alone, three round trips (BEGIN, a second INSERT, COMMIT) fewer than `work`.
        with _unique_errors(schema):
            rows = store.insert_logged_alone(doc, caller.project.id, collection.id, collection.name, full)
        changefeed.written_alone(caller.project.id, rows, None, full)
    elif _one_statement_in_transaction(schema, changes):
        # Inside a caller's transaction (a batch): one statement and no savepoint of its own, where
        # `work` took four round trips (SAVEPOINT, two INSERTs, RELEASE). Nothing in it can be
        # refused by the database (no unique index, no edge), and a database failure fails the
        # caller's whole transaction with or without a savepoint.
        store.insert_logged(doc, caller.project.id, collection.id, collection.name, full)
    else:
        _run_write(schema, work)
    statistics.note_write(collection.id)
    return written(caller, schema, doc, receipt={"created_at": full["created_at"], "updated_at": full["updated_at"]})


def edit_documents(
    project: Any, name: str, doc_ids: list[str], edit: Callable[[dict[str, Any]], dict[str, Any] | None]
) -> dict[str, dict[str, Any]]:
    """The platform's own edit of many documents of one collection, with no caller (push marking an
    installation inactive after a provider refused its token, or raising badges at fan-out).

    Each document `edit` changes (it gets a copy of the data and returns the new data, or None to
    leave it) gets a new version and time and its change-log row, as any write, so realtime
    subscribers and webhooks see it; in one transaction, batched for engines that edit thousands
    at a time: one locking read, one batch of updates, one batch of change-log rows. Runs inside
    the caller's transaction when there is one. Returns the new data of each edited document."""
    schema = schema_for(project, name)
    collection = schema.collection
    now = timezone.now()
    edited: list[StoredDoc] = []
    entries: list[tuple[str, str, Any, Any]] = []
    with changefeed.write_transaction():
        for doc in store.fetch_many(collection.id, sorted(set(doc_ids)), for_update=True):
            data = edit(dict(doc.data))
            if data is None or data == doc.data:
                continue
            before = render(schema, doc)
            doc.data, doc.version, doc.updated_at = data, doc.version + 1, now
            edited.append(doc)
            entries.append((doc.id, ChangeLogEntry.UPDATE, before, render(schema, doc)))
        store.update_data_many(edited, collection.id)
        store.append_changes(project.id, collection.name, entries, now)
    return {doc.id: doc.data for doc in edited}


def written(caller: Caller, schema: Schema, doc: StoredDoc, receipt: dict[str, Any]) -> Result:
    """A write's answer shows what a GET by the same caller would, never more.

    A caller who may write but not read the document (collection `get` rule or read ACL) gets a
    receipt: the id and the times of their own write, nothing stored; protected fields are left out."""
    if not access.can_get(caller, schema.collection, doc.data, doc.read_principals):
        return Result(body={"id": doc.id, **receipt}, version=None)
    body = render(schema, doc, access.hidden_for(caller, schema.collection, doc.id))
    return Result(body=for_caller(caller, schema, [body])[0], version=doc.version)


def _blind_fields(caller: Caller, schema: Schema, doc: StoredDoc) -> frozenset[str]:
    """Fields whose current value the caller may not read: all of them when the document is unreadable."""
    if not access.can_get(caller, schema.collection, doc.data, doc.read_principals):
        return frozenset(schema.fields)
    return access.hidden_for(caller, schema.collection, doc.id)


def get_document(caller: Caller, name: Any, doc_id: Any, *, fields: Any = None, expand: Any = None) -> Result:
    schema = schema_for(caller.project, name)
    doc_id = _check_id(doc_id)
    _op_possible(caller, schema, "get")
    doc = store.fetch(schema.collection.id, doc_id)
    if doc is None or not access.can_get(caller, schema.collection, doc.data, doc.read_principals):
        raise NotFound("Document not found.")
    body = for_caller(
        caller, schema, [render(schema, doc, access.hidden_for(caller, schema.collection, doc.id), fields)]
    )[0]
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
    allowed = direct or access.can_collection_op(caller, schema.collection, op, doc.data)
    if not allowed or not access.can_write(caller, doc.write_principals):
        # 403 only to those a GET would show it to; to anyone else it does not exist.
        if access.can_get(caller, schema.collection, doc.data, doc.read_principals):
            raise PermissionDenied(f"This key may not {op} this document.")
        raise NotFound("Document not found.")
    if if_match is not None:
        # A version the caller was never shown (no read access: receipts carry no ETag) cannot
        # match; otherwise 412-or-not would tell them how often the document was written.
        readable = access.can_get(caller, schema.collection, doc.data, doc.read_principals)
        if not (etag_matches(if_match, doc.version) if readable else if_match.strip() == "*"):
            raise PreconditionFailed()
    return doc


# Tries of an update or delete made from an unlocked read before it takes the row lock: another
# writer of the same document between the read and the write makes it read again.
OPTIMISTIC_UPDATE_TRIES = 2


def update_document(caller: Caller, name: Any, doc_id: Any, body: Any, *, if_match: str | None = None) -> Result:
    schema = schema_for(caller.project, name)
    collection = schema.collection
    doc_id = _check_id(doc_id)
    direct = _op_possible(caller, schema, "update")

    def prepare(current: StoredDoc | None) -> tuple[StoredDoc, Changes, dict[str, Any], dict[str, Any]]:
        doc = _locked_for_write(caller, schema, doc_id, "update", direct, current, if_match)
        # After the access check, so callers who may not write it still get their 403/404.
        blind = _blind_fields(caller, schema, doc)
        body_left = builtin.refuse_identity_fields(collection, body, doc.data, doc.acl, blind)
        builtin.refuse_server_fields(collection, body_left, access.hidden_fields(caller, collection))
        changes = apply_update(schema, doc.data, body_left, blind)
        # Only references this write changes: a value kept as it was is not re-checked (the file
        # may have been deleted since, which reads as the id alone, as before this write).
        changed = {name for name in changes.touched if changes.data.get(name) != doc.data.get(name)}
        check_references(caller.project.id, schema, changes.data, changed)
        before = render(schema, doc)
        if changes.acl_given:
            doc.acl = access.validate_acl(changes.acl)
            doc.read_principals, doc.write_principals = access.acl_principals(doc.acl)
        doc.data = changes.data
        doc.version += 1
        doc.updated_at = timezone.now()
        _check_index_sizes(schema, doc.data, changes.touched)
        return doc, changes, before, render(schema, doc)

    def work() -> Result:
        # FOR UPDATE (PostgreSQL) / the IMMEDIATE transaction (SQLite) makes read-modify-write atomic,
        # so concurrent increments and add_unique never lose or duplicate.
        doc, changes, before, after = prepare(store.fetch(collection.id, doc_id, for_update=True))
        _check_unique(schema, doc.data, doc.id, changes.touched)
        # The edges first (the row is locked already): the update and its change-log row then
        # end the transaction together, one statement where the engine allows it.
        _write_edges(caller, schema, doc.id, changes)
        store.update_logged(doc, caller.project.id, collection.id, collection.name, before, after)
        # Rendering may read (file fields) under the sequencer lock just taken: reads only, and short.
        return written(caller, schema, doc, receipt={"updated_at": after["updated_at"]})

    if _one_statement_write(schema):
        # PostgreSQL with no transaction open: read without a lock, then write only if the version
        # read is still the stored one, the change-log row in the same autocommitted statement (two
        # round trips where the locked path takes four). Every check above ran against exactly the
        # version replaced; a concurrent writer in between makes it read again, then lock.
        for _try in range(OPTIMISTIC_UPDATE_TRIES):
            doc, changes, before, after = prepare(store.fetch(collection.id, doc_id))
            if changes.add_edges or changes.remove_edges:
                break  # relation rows to write with it: the transaction below
            with _unique_errors(schema):
                rows = store.update_logged_alone(doc, caller.project.id, collection.id, collection.name, before, after)
            if rows is not None:
                changefeed.written_alone(caller.project.id, rows, before, after)
                statistics.note_write(collection.id, created=False)
                return written(caller, schema, doc, receipt={"updated_at": after["updated_at"]})
    result = _run_write(schema, work)
    statistics.note_write(collection.id, created=False)
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
            caller.project.id,
            collection.name,
            doc_id,
            ChangeLogEntry.DELETE,
            render(schema, doc),
            None,
            timezone.now(),
            last=True,
        )

    if not has_relations and _one_statement_write(schema):
        # As an update (`update_document`): checked against an unlocked read, deleted only if that
        # version is still the stored one, with its change-log row, in one autocommitted statement.
        for _try in range(OPTIMISTIC_UPDATE_TRIES):
            doc = _locked_for_write(
                caller, schema, doc_id, "delete", direct, store.fetch(collection.id, doc_id), if_match
            )
            before = render(schema, doc)
            rows = store.delete_logged_alone(
                doc, caller.project.id, collection.id, collection.name, before, timezone.now()
            )
            if rows is not None:
                changefeed.written_alone(caller.project.id, rows, before, None)
                statistics.note_write(collection.id, created=False)
                return
    _run_write(schema, work)
    statistics.note_write(collection.id, created=False)

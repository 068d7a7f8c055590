"""Raw SQL for the document hot path (one statement per step), for SQLite and PostgreSQL alike."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from django.db import connection

from basalt.core import unchanged
from basalt.core.times import rfc3339_ms
from basalt.documents import changefeed

COLUMNS = "id, data, acl, read_principals, write_principals, created_by, created_at, updated_at, version"


@dataclass
class StoredDoc:
    """A document row as read for a write or a single get (with its principal lists)."""

    id: str
    data: dict[str, Any]
    acl: dict[str, Any]
    read_principals: list[str]
    write_principals: list[str]
    created_by: str | None
    created_at: Any
    updated_at: Any
    version: int


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _json_param() -> str:
    return "%s::jsonb" if is_postgres() else "%s"


def dump(value: Any) -> str:
    return orjson.dumps(value).decode()


def _writing():
    """A cursor for the writes below: they change the document store's tables only, so the key
    lookups after them may still be answered from the key memo (core.unchanged)."""
    return unchanged.cursor_writing_none_of_the_kept_tables()


def _load(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def db_time(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def _row(row: tuple) -> StoredDoc:
    return StoredDoc(
        id=row[0],
        data=_load(row[1]),
        acl=_load(row[2]),
        read_principals=_load(row[3]),
        write_principals=_load(row[4]),
        created_by=row[5],
        created_at=row[6],
        updated_at=row[7],
        version=row[8],
    )


_SQLITE_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?")


def format_time(value: Any) -> str:
    """RFC 3339 UTC with milliseconds from a datetime (PostgreSQL) or SQLite's stored text."""
    if isinstance(value, datetime):
        return rfc3339_ms(value)
    match = _SQLITE_TIME.match(str(value))
    if match is None:
        raise ValueError(f"unparseable stored time {value!r}")
    fraction = (match.group(3) or "").ljust(3, "0")[:3]
    return f"{match.group(1)}T{match.group(2)}.{fraction}Z"


def fetch(collection_id: int, doc_id: str, *, for_update: bool = False) -> StoredDoc | None:
    sql = f"SELECT {COLUMNS} FROM basalt_document WHERE id = %s AND collection_id = %s"  # noqa: S608
    if for_update and is_postgres():
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [doc_id, collection_id])
        row = cursor.fetchone()
    return _row(row) if row else None


def fetch_many(collection_id: int, doc_ids: list[str], *, for_update: bool = False) -> list[StoredDoc]:
    """Many documents in one statement, in id order (so concurrent lockers take row locks in one order)."""
    if not doc_ids:
        return []
    marks = ", ".join(["%s"] * len(doc_ids))
    sql = f"SELECT {COLUMNS} FROM basalt_document WHERE collection_id = %s AND id IN ({marks}) ORDER BY id"  # noqa: S608
    if for_update and is_postgres():
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [collection_id, *doc_ids])
        return [_row(row) for row in cursor.fetchall()]


def update_data_many(docs: list[StoredDoc], collection_id: int) -> None:
    """Write new data, version and time of many documents (one pipelined statement batch)."""
    if not docs:
        return
    j = _json_param()
    with _writing() as cursor:
        cursor.executemany(
            f"UPDATE basalt_document SET data = {j}, updated_at = %s, version = %s "  # noqa: S608
            "WHERE id = %s AND collection_id = %s",
            [[dump(doc.data), db_time(doc.updated_at), doc.version, doc.id, collection_id] for doc in docs],
        )


Statement = tuple[str, list[Any]]


def _insert_statement(doc: StoredDoc, project_id: int, collection_id: int) -> Statement:
    j = _json_param()
    return (
        "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "  # noqa: S608
        f"write_principals, created_by, created_at, updated_at, version) VALUES (%s, %s, %s, {j}, {j}, {j}, {j}, "
        "%s, %s, %s, %s)",
        [
            doc.id,
            project_id,
            collection_id,
            dump(doc.data),
            dump(doc.acl),
            dump(doc.read_principals),
            dump(doc.write_principals),
            doc.created_by,
            db_time(doc.created_at),
            db_time(doc.updated_at),
            doc.version,
        ],
    )


def _update_statement(doc: StoredDoc, collection_id: int) -> Statement:
    j = _json_param()
    return (
        f"UPDATE basalt_document SET data = {j}, acl = {j}, read_principals = {j}, write_principals = {j}, "  # noqa: S608
        "updated_at = %s, version = %s WHERE id = %s AND collection_id = %s",
        [
            dump(doc.data),
            dump(doc.acl),
            dump(doc.read_principals),
            dump(doc.write_principals),
            db_time(doc.updated_at),
            doc.version,
            doc.id,
            collection_id,
        ],
    )


def _execute(statement: Statement) -> None:
    with _writing() as cursor:
        cursor.execute(*statement)


def insert(doc: StoredDoc, project_id: int, collection_id: int) -> None:
    _execute(_insert_statement(doc, project_id, collection_id))


def update(doc: StoredDoc, collection_id: int) -> None:
    _execute(_update_statement(doc, collection_id))


def _log_change_call(
    project_id: int, collection: str, doc_id: str, kind: str, before: Any, after: Any, now: datetime
) -> Statement:
    """`basalt_log_change` (migration 0008) as a SELECT: the change-log row, numbered in place if the
    project's lock is free; its rows are what `changefeed` announces."""
    call, params = _log_change_function(project_id, collection, doc_id, kind, before, after, now)
    return f"SELECT * FROM {call}", params  # noqa: S608 (the function call with placeholders)


def _log_change_function(
    project_id: int, collection: str, doc_id: str, kind: str, before: Any, after: Any, now: datetime
) -> Statement:
    """The `basalt_log_change(...)` call itself, for a FROM clause."""
    return (
        "basalt_log_change(%s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s)",
        [
            project_id,
            collection,
            doc_id,
            kind,
            None if before is None else dump(before),
            None if after is None else dump(after),
            db_time(now),
            changefeed.BATCH,
        ],
    )


def _written_and_logged(write: Statement, log: Statement) -> list[tuple]:
    """PostgreSQL: a write and its change-log row in one statement (the write as a CTE), so one
    round trip; a failing write (a unique index) fails both."""
    with connection.cursor() as cursor:
        cursor.execute(f"WITH written AS ({write[0]}) {log[0]}", [*write[1], *log[1]])
        return cursor.fetchall()


def insert_logged_alone(
    doc: StoredDoc, project_id: int, collection_id: int, collection: str, after: Any
) -> list[tuple]:
    """PostgreSQL, no transaction open (`changefeed.may_write_alone`): the insert and its change-log
    row in one statement, which commits on its own. Returns the rows `changefeed.written_alone`
    announces."""
    log = _log_change_call(project_id, collection, doc.id, "create", None, after, doc.created_at)
    return _written_and_logged(_insert_statement(doc, project_id, collection_id), log)


def insert_logged(doc: StoredDoc, project_id: int, collection_id: int, collection: str, after: Any) -> None:
    """PostgreSQL, inside a transaction that numbers its rows (`changefeed.number_after_commit`): the
    insert and its unnumbered change-log row in one statement, one round trip where two were."""
    write, write_params = _insert_statement(doc, project_id, collection_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH written AS ({write}) {_unnumbered_change_sql()}",
            [*write_params, project_id, collection, doc.id, "create", None, dump(after), db_time(doc.created_at)],
        )
    changefeed.number_after_commit(project_id)


def _unnumbered_change_sql() -> str:
    """PostgreSQL: one change-log row without its seq (numbered by the writer's transaction or after
    it, `changefeed`); parameters: project, collection, document, type, before, after, time."""
    j = _json_param()
    return (
        "INSERT INTO basalt_change_log (project_id, collection, document_id, type, before, after, "  # noqa: S608
        f"created_at) VALUES (%s, %s, %s, %s, {j}, {j}, %s)"
    )


def update_logged_alone(
    doc: StoredDoc, project_id: int, collection_id: int, collection: str, before: Any, after: Any
) -> list[tuple] | None:
    """PostgreSQL, no transaction open: the update, if the stored version is still the one it was
    made from (`doc.version - 1`), and its change-log row, in one statement that commits alone.
    None: the version moved (or the document is gone) and nothing was written. Otherwise the rows
    `changefeed.written_alone` announces (none: the sequencer was taken, the row went unnumbered)."""
    log = _log_change_function(project_id, collection, doc.id, "update", before, after, doc.updated_at)
    return _written_if_version(_update_statement(doc, collection_id), doc.version - 1, log)


def delete_logged_alone(
    doc: StoredDoc, project_id: int, collection_id: int, collection: str, before: Any, now: datetime
) -> list[tuple] | None:
    """`update_logged_alone` for a delete of `doc` as read (its version)."""
    log = _log_change_function(project_id, collection, doc.id, "delete", before, None, now)
    delete = ("DELETE FROM basalt_document WHERE id = %s AND collection_id = %s", [doc.id, collection_id])
    return _written_if_version(delete, doc.version, log)


def _written_if_version(write: Statement, version: int, log: Statement) -> list[tuple] | None:
    # LATERAL: the change-log function runs once per row the write touched, so not at all when the
    # version moved; LEFT JOIN: a written row still comes back when the function returned none.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH written AS ({write[0]} AND version = %s RETURNING 1) "  # noqa: S608
            f"SELECT changed.* FROM written LEFT JOIN LATERAL {log[0]} AS changed ON true",
            [*write[1], version, *log[1]],
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    return [row for row in rows if row[0] is not None]


def update_logged(
    doc: StoredDoc, project_id: int, collection_id: int, collection: str, before: Any, after: Any
) -> None:
    """The update and its change-log row as the write transaction's last statement (PostgreSQL,
    `changefeed.may_number_in_place`), one round trip; otherwise two statements, as always."""
    if not changefeed.may_number_in_place():
        update(doc, collection_id)
        append_change(project_id, collection, doc.id, "update", before, after, doc.updated_at, last=True)
        return
    log = _log_change_call(project_id, collection, doc.id, "update", before, after, doc.updated_at)
    rows = _written_and_logged(_update_statement(doc, collection_id), log)
    changefeed.numbered_in_place(project_id, rows, before, after)


def delete_returning(collection_id: int, doc_id: str) -> StoredDoc | None:
    """Delete and return the row in one statement; the caller rolls back if the check then fails."""
    with _writing() as cursor:
        cursor.execute(
            f"DELETE FROM basalt_document WHERE id = %s AND collection_id = %s RETURNING {COLUMNS}",  # noqa: S608
            [doc_id, collection_id],
        )
        row = cursor.fetchone()
    return _row(row) if row else None


# SQLite: the project's counter moved by N in the writer's transaction (the row is made at the
# project's first write).
_BUMP_SEQ = (
    "INSERT INTO basalt_change_seq (project_id, change_seq) VALUES (%s, %s) ON CONFLICT (project_id) "
    "DO UPDATE SET change_seq = basalt_change_seq.change_seq + excluded.change_seq RETURNING change_seq"
)


def append_change(
    project_id: int,
    collection: str,
    doc_id: str,
    kind: str,
    before: Any,
    after: Any,
    now: datetime,
    *,
    last: bool = False,
) -> None:
    """Write the change-log row; its listeners (realtime) hear of it once the transaction commits.

    PostgreSQL: the row is inserted without a seq and numbered by the last statement of the write
    transaction or right after its commit (`changefeed`), so concurrent writers of one project never
    queue on the project's counter row; `last` (the caller runs no statement after this one) lets
    that last statement be this insert itself. SQLite: one writer at a time anyway, the counter is
    bumped here."""
    before_json = None if before is None else dump(before)
    after_json = None if after is None else dump(after)
    with _writing() as cursor:
        if last and changefeed.may_number_in_place():
            cursor.execute(*_log_change_call(project_id, collection, doc_id, kind, before, after, now))
            changefeed.numbered_in_place(project_id, cursor.fetchall(), before, after)
            return
        if is_postgres():
            cursor.execute(
                _unnumbered_change_sql(), [project_id, collection, doc_id, kind, before_json, after_json, db_time(now)]
            )
            changefeed.number_after_commit(project_id)
            return
        cursor.execute(_BUMP_SEQ, [project_id, 1])
        seq = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO basalt_change_log (project_id, seq, collection, document_id, type, before, after, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [project_id, seq, collection, doc_id, kind, before_json, after_json, db_time(now)],
        )
    changefeed.announce(changefeed.Change(project_id, seq, collection, doc_id, kind, before, after))


def append_changes(project_id: int, collection: str, entries: list[tuple[str, str, Any, Any]], now: datetime) -> None:
    """`append_change` for many rows at once: (document id, kind, before, after) each, in this order."""
    if not entries:
        return
    stamp = db_time(now)
    dumped = [
        (doc_id, kind, None if before is None else dump(before), None if after is None else dump(after))
        for doc_id, kind, before, after in entries
    ]
    with _writing() as cursor:
        if is_postgres():
            cursor.executemany(_unnumbered_change_sql(), [[project_id, collection, *row, stamp] for row in dumped])
            changefeed.number_after_commit(project_id)
            return
        cursor.execute(_BUMP_SEQ, [project_id, len(entries)])
        first = cursor.fetchone()[0] - len(entries) + 1
        cursor.executemany(
            "INSERT INTO basalt_change_log (project_id, seq, collection, document_id, type, before, after, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [[project_id, first + index, collection, *row, stamp] for index, row in enumerate(dumped)],
        )
    for index, (doc_id, kind, before, after) in enumerate(entries):
        changefeed.announce(changefeed.Change(project_id, first + index, collection, doc_id, kind, before, after))


def add_relations(project_id: int, collection_id: int, field: str, from_id: str, to_ids: list[str]) -> None:
    if not to_ids:
        return
    conflict = "ON CONFLICT DO NOTHING"
    values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(to_ids))
    params: list[Any] = []
    for to_id in to_ids:
        params += [project_id, collection_id, field, from_id, to_id]
    with _writing() as cursor:
        cursor.execute(
            "INSERT INTO basalt_relation (project_id, collection_id, field, from_id, to_id) "  # noqa: S608
            f"VALUES {values} {conflict}",
            params,
        )


def remove_relations(collection_id: int, field: str, from_id: str, to_ids: list[str]) -> None:
    if not to_ids:
        return
    marks = ", ".join(["%s"] * len(to_ids))
    with _writing() as cursor:
        cursor.execute(
            "DELETE FROM basalt_relation WHERE collection_id = %s AND field = %s AND from_id = %s "  # noqa: S608
            f"AND to_id IN ({marks})",
            [collection_id, field, from_id, *to_ids],
        )


def remove_all_relations(collection_id: int, from_id: str) -> None:
    with _writing() as cursor:
        cursor.execute(
            "DELETE FROM basalt_relation WHERE collection_id = %s AND from_id = %s", [collection_id, from_id]
        )


def lock_unique(collection_id: int, fields: tuple[str, ...]) -> None:
    """PostgreSQL: serialise writers checking one not-yet-built unique index until their commit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"basalt.unique:{collection_id}:{','.join(fields)}"],
        )


def value_taken(collection_id: int, values: dict[str, Any], exclude_id: str | None) -> bool:
    """Does another document of the collection hold these values? (The write service's unique check.)

    Compares like the unique index would: jsonb equality on PostgreSQL, JSON1 values on SQLite."""
    clauses, params = [], [collection_id]
    for name, value in values.items():
        if is_postgres():
            clauses.append("COALESCE(data -> %s, 'null'::jsonb) = %s::jsonb")
            params += [name, dump(value)]
        else:
            clauses.append(f"json_extract(data, '$.\"{name}\"') = json_extract(%s, '$')")
            params.append(dump(value))
    sql = f"SELECT 1 FROM basalt_document WHERE collection_id = %s AND {' AND '.join(clauses)}"  # noqa: S608
    if exclude_id is not None:
        sql += " AND id <> %s"
        params.append(exclude_id)
    with connection.cursor() as cursor:
        cursor.execute(sql + " LIMIT 1", params)
        return cursor.fetchone() is not None

"""Declared collection indexes as real database indexes, built by a background job.

A CollectionIndex row becomes a partial expression index on `basalt_document`
(`… WHERE collection_id = N`) whose expressions are exactly the ones the query compiler emits
(`basalt.documents.query.dialects`), so the planner can use it for `where` and `order`. On
PostgreSQL it is built with CREATE INDEX CONCURRENTLY (writes keep flowing) outside any
transaction; a failed concurrent build leaves an INVALID index behind, which is dropped before
the row is marked `failed`. On SQLite the same partial expression index is created directly.

Writes never break a build: until a unique index is `ready` the write service enforces it
itself (services._check_unique, serialised by an advisory lock on PostgreSQL), so no duplicate
is written meanwhile. A passing error (lock, deadlock, busy SQLite file) sends the row back to
`pending` and the task retries with backoff; duplicates already stored, a value too large to
index or a bad definition mark it `failed` with the reason, and saving the collection's
`indexes` again (PATCH, even unchanged) queues failed or lost builds once more.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext

from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from basalt.documents import statistics
from basalt.documents.jobs import enqueue
from basalt.documents.models import Collection, CollectionIndex
from basalt.documents.query.dialects import Dialect, current_dialect
from basalt.documents.query.nodes import SYSTEM_FIELDS, FieldRef

logger = logging.getLogger("basalt.documents.indexes")
_DB_NAME = re.compile(r"\A[a-z_][a-z0-9_]{0,62}\Z")
_FIELD = re.compile(r"\A-?[a-z][a-z0-9_]{0,62}\Z")
_PROGRAM_LIMIT_EXCEEDED = "54000"  # PostgreSQL: e.g. an index row larger than a btree page allows
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: index '([a-z0-9_]+)'")


class IndexDefinitionError(ValueError):
    """A CollectionIndex row that cannot be turned into DDL (bad name or field)."""


def _quoted_name(db_name: str) -> str:
    if not _DB_NAME.match(db_name or ""):
        raise IndexDefinitionError(f"invalid index name {db_name!r}")
    return f'"{db_name}"'


def _terms(dialect: Dialect, fields: Iterable[str]) -> list[tuple[str, bool, FieldRef]]:
    terms = []
    for field in fields:
        if not isinstance(field, str) or not _FIELD.match(field):
            raise IndexDefinitionError(f"invalid index field {field!r}")
        name = field.lstrip("-")
        ref = FieldRef((name,), None, system=name in SYSTEM_FIELDS)
        terms.append((dialect.sort_expr(ref), field.startswith("-"), ref))
    return terms


def _array_field(row: CollectionIndex) -> bool:
    """A plain index on one declared array field (what `$contains`, `$all` and `$in` filter on)."""
    if row.unique or len(row.fields) != 1 or not isinstance(row.fields[0], str):
        return False
    declared = (getattr(row.collection, "fields", None) or {}).get(row.fields[0].lstrip("-"))
    return isinstance(declared, dict) and declared.get("type") == "array"


def index_ddl(row: CollectionIndex, *, concurrently: bool, dialect: Dialect | None = None) -> str:
    """The CREATE INDEX statement for a row; its expressions match the compiler's byte for byte."""
    dialect = dialect or current_dialect()
    terms = _terms(dialect, row.fields)
    if not terms:
        raise IndexDefinitionError("an index needs at least one field")
    how = "CONCURRENTLY " if concurrently and dialect.vendor == "postgresql" else ""
    if dialect.vendor == "postgresql" and _array_field(row):
        # Arrays are filtered by containment (`@>`, dialects.contains/any_of), which a btree cannot
        # serve: a GIN index on the very same expression can (jsonb_path_ops: `@>` only, compact).
        return (
            f"CREATE INDEX {how}IF NOT EXISTS {_quoted_name(row.db_name)} ON basalt_document "
            f"USING gin (({terms[0][0]}) jsonb_path_ops) WHERE collection_id = {int(row.collection_id)}"
        )
    columns = [f"{expr} DESC" if descending else expr for expr, descending, _ in terms]
    predicate = [f"collection_id = {int(row.collection_id)}"]
    if row.unique:
        # Like SQL unique constraints, a missing (or null) value never conflicts with another.
        if dialect.vendor == "postgresql":
            predicate += [f"{expr} <> 'null'::jsonb" for expr, _, ref in terms if not ref.system]
    elif not any(ref.system and ref.path[0] == "id" for _, _, ref in terms):
        # Plain indexes end in id, running the way the last field runs: it is the keyset tie-break.
        columns.append("id DESC" if terms[-1][1] else "id")
        if dialect.vendor == "sqlite":
            columns.append(SQLITE_READERS_COLUMN)
    unique = "UNIQUE " if row.unique else ""
    return (
        f"CREATE {unique}INDEX {how}IF NOT EXISTS {_quoted_name(row.db_name)} ON basalt_document "
        f"({', '.join(columns)}) WHERE {' AND '.join(predicate)}"
    )


# SQLite: the ACL column last in every plain declared index (after id, so the order is unchanged).
# A signed-in count or find over the index then tests each entry's readers from the index itself
# and reads a row only to return it: a count of `score > X` over 10,400 of 19,100 posts took 5.2 ms
# visiting each row, 1.5 ms from the index alone (bench/README.md, 2026-12-07). Unique indexes keep
# their exact columns: a column added there would change what counts as a duplicate.
SQLITE_READERS_COLUMN = "read_principals"


def statistics_name(db_name: str) -> str:
    return _quoted_name(_statistics_name(db_name))


def _statistics_name(db_name: str) -> str:
    return f"{db_name[:59]}_st"


def lack_statistics(rows: Iterable[CollectionIndex]) -> bool:
    """PostgreSQL: whether any of these indexes would have statistics (`statistics_ddl`) but has none."""
    wanted = [_statistics_name(row.db_name) for row in rows if statistics_ddl(row) is not None]
    if not wanted:
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_statistic_ext WHERE stxname = ANY(%s)", [wanted])
        return cursor.fetchone()[0] < len(wanted)


def statistics_ddl(row: CollectionIndex) -> str | None:
    """PostgreSQL: statistics on the index's field expressions, or None where there is nothing to add.

    The planner never reads a partial index's own statistics (and every declared index is partial,
    `WHERE collection_id = N`), so a filter on a declared field was estimated at a third of the
    collection: a count of 10,000 matches among 1,000,000 documents scanned the whole table (334 ms)
    instead of the index (64 ms). Statistics on the expression itself are read (PostgreSQL 14+).
    They sample the whole shared table, so they are sharpest for the large collections that need them,
    and only those get them (`statistics.large_enough`): the planner reads every statistics object of
    the table when it plans any query on it, about 5 us each, so one per index of every collection
    of the installation made every find slower as the installation grew (measured: planning 0.12 ms
    with none, 0.38 ms with 22, 1.2 ms with 200). An array field's serve `@>` too: PostgreSQL tests
    each common whole array against the value (a tag held by a fifth of 19,300 documents: estimated
    2,848 matches, 3,765 found; 136 without)."""
    dialect = current_dialect()
    if dialect.vendor != "postgresql" or connection.pg_version < 140000:
        return None
    expressions = list(dict.fromkeys(expr for expr, _, ref in _terms(dialect, row.fields) if not ref.system))
    if not expressions:
        return None
    targets = ", ".join(f"({expr})" for expr in expressions)
    return f"CREATE STATISTICS IF NOT EXISTS {statistics_name(row.db_name)} ON {targets} FROM basalt_document"


def add_statistics(rows: Iterable[CollectionIndex]) -> None:
    """Statistics on these indexes' field expressions (`statistics_ddl`), where missing. A plan aid:
    a failure is logged, never raised (each in its own savepoint)."""
    for row in rows:
        stats = statistics_ddl(row)
        if stats is None:
            continue
        try:
            with transaction.atomic():
                _execute(stats)
        except DatabaseError:
            logger.exception("statistics for index %s not created", row.db_name)


def drop_ddl(db_name: str, *, concurrently: bool) -> str:
    how = "CONCURRENTLY " if concurrently and connection.vendor == "postgresql" else ""
    return f"DROP INDEX {how}IF EXISTS {_quoted_name(db_name)}"


def _set_status(index_id: int, status: str, error: str = "") -> None:
    CollectionIndex.objects.filter(pk=index_id).update(status=status, error=error[:2000], updated_at=timezone.now())


def _pg_index_state(db_name: str) -> bool | None:
    """True: valid index exists; False: an INVALID leftover exists; None: no such index."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [db_name],
        )
        found = cursor.fetchone()
    return None if found is None else bool(found[0])


class TransientBuildError(Exception):
    """The build met a passing condition (a lock, a deadlock, a busy SQLite file): retry later."""


def build_index(index_id: int) -> str:
    """Build (or confirm) the index of one row; idempotent. Returns the final status.

    Raises TransientBuildError (the row back to `pending`, the reason in `error`) when retrying
    can succeed; the task retries with backoff. Writes meanwhile cannot break the build: unique
    indexes not yet `ready` are enforced by the write service (services._check_unique)."""
    row = CollectionIndex.objects.filter(pk=index_id).first()
    if row is None:
        return "missing"
    if row.status in (CollectionIndex.READY, CollectionIndex.DROPPING):
        return row.status
    with _build_lock(row.pk) as mine:
        if not mine:
            return row.status  # another worker is building this very row right now
        return _build(row)


def _build(row: CollectionIndex) -> str:
    _set_status(row.pk, CollectionIndex.BUILDING, row.error)
    # CONCURRENTLY cannot run inside a transaction block (tests, eager callers): build plainly there.
    concurrently = connection.vendor == "postgresql" and not connection.in_atomic_block
    try:
        ddl = index_ddl(row, concurrently=concurrently)
        # Inside a caller's transaction a failed statement must not poison it: use a savepoint.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            if connection.vendor == "postgresql" and _pg_index_state(row.db_name) is False:
                _execute(drop_ddl(row.db_name, concurrently=concurrently))
            _execute(ddl)
        if statistics.large_enough(row.collection_id):
            add_statistics([row])
    except (DatabaseError, IndexDefinitionError) as exc:
        message = _describe_failure(row, exc)
        logger.warning("index %s (%s) failed: %s", row.db_name, row.fields, message)
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            _execute(drop_ddl(row.db_name, concurrently=True), swallow=True)
        if _transient(exc):
            _set_status(row.pk, CollectionIndex.PENDING, f"Will retry: {message}")
            raise TransientBuildError(message) from exc
        _set_status(row.pk, CollectionIndex.FAILED, message)
        return CollectionIndex.FAILED
    statistics.refresh()
    _set_status(row.pk, CollectionIndex.READY)
    if row.unique:
        _now_enforced_by_database(row)
    return CollectionIndex.READY


def give_up(index_id: int, reason: str) -> str:
    """After the last retry: `failed` with the reason (a schema PATCH with `indexes` retries it)."""
    _set_status(index_id, CollectionIndex.FAILED, f"Gave up after repeated attempts: {reason}")
    return CollectionIndex.FAILED


def _now_enforced_by_database(row: CollectionIndex) -> None:
    """A new schema version, so every process reloads and leaves this unique check to the index."""
    from basalt.documents import cache
    from basalt.projects.models import Project

    project_id = Collection.objects.filter(pk=row.collection_id).values_list("project_id", flat=True).first()
    if project_id is not None:
        Project.objects.filter(pk=project_id).update(schema_version=F("schema_version") + 1)
        cache.forget(project_id)


# Every build on PostgreSQL waits for this one lock: two CREATE INDEX CONCURRENTLY on the same
# table each wait for the other's transaction to end, and one of them died "deadlock detected".
_ALL_BUILDS_LOCK = "basalt.index_build:all"


def _wait_for_lock(key: str) -> None:
    """Take a session advisory lock by polling, never by a blocking call: a statement blocked on
    the lock holds a snapshot, which the holder's CONCURRENTLY build waits for, a deadlock again."""
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
            if cursor.fetchone()[0]:
                return
        time.sleep(_LOCK_POLL_SECONDS)


_LOCK_POLL_SECONDS = 0.2


@contextmanager
def _build_lock(index_id: int) -> Iterator[bool]:
    """PostgreSQL: one build per row at a time (a session lock: CONCURRENTLY runs outside
    transactions), and builds of different rows one after another (waiting, not failing)."""
    if connection.vendor != "postgresql":
        yield True  # SQLite builds inside its single writer lock
        return
    key = f"basalt.index_build:{index_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key])
        mine = bool(cursor.fetchone()[0])
    if mine:
        _wait_for_lock(_ALL_BUILDS_LOCK)
    try:
        yield mine
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_ALL_BUILDS_LOCK])
                cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])


def _transient(exc: BaseException) -> bool:
    """Lock waits, deadlocks, a busy SQLite file, a dropped connection: not the data's fault."""
    if not isinstance(exc, OperationalError):
        return False
    return getattr(exc.__cause__, "sqlstate", None) != _PROGRAM_LIMIT_EXCEEDED


def drop_index(index_id: int) -> str:
    """Drop a row's index, then the row; idempotent."""
    row = CollectionIndex.objects.filter(pk=index_id).first()
    if row is None:
        return "missing"
    if row.status != CollectionIndex.DROPPING:
        return row.status
    drop_names([row.db_name])
    CollectionIndex.objects.filter(pk=row.pk, status=CollectionIndex.DROPPING).delete()
    return "dropped"


def drop_names(db_names: Iterable[str]) -> None:
    concurrently = not connection.in_atomic_block
    for name in db_names:
        _execute(drop_ddl(name, concurrently=concurrently))
        if connection.vendor == "postgresql":
            _execute(f"DROP STATISTICS IF EXISTS {statistics_name(name)}")


def _execute(sql: str, swallow: bool = False) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    except DatabaseError:
        if not swallow:
            raise
        logger.exception("ignored failure of %s", sql)


def _describe_failure(row: CollectionIndex, exc: Exception) -> str:
    fields = ", ".join(f.lstrip("-") for f in row.fields)
    if isinstance(exc, IntegrityError) or "could not create unique index" in str(exc) or "UNIQUE" in str(exc):
        return (
            f"Existing documents have duplicate values for {fields}: make them distinct, then save the "
            "collection's indexes again to retry."
        )
    if getattr(exc.__cause__, "sqlstate", None) == _PROGRAM_LIMIT_EXCEEDED:
        return f"A stored value of {fields} is too large to index; shorten it, then save the indexes again to retry."
    return str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__


# --- scheduling (called by the collections service on commit) ----------------------------------
def schedule_index_build(index_id: int) -> None:
    """Queue the build of one CollectionIndex row (runs inline in the embedded profile)."""
    from basalt.documents.tasks import build_collection_index

    enqueue(build_collection_index, index_id)


def schedule_index_drop(index_id: int) -> None:
    """Queue dropping a row marked `dropping`: the database index first, then the row."""
    from basalt.documents.tasks import drop_collection_index

    enqueue(drop_collection_index, index_id)


def drop_indexes_now(db_names: list[str]) -> None:
    """Drop indexes whose rows are going away (collection deletion).

    Inside a transaction the drop waits for the commit and runs CONCURRENTLY then: a plain DROP
    INDEX there would lock the shared documents table until the caller commits. The partial
    index covers only the deleted collection, so it is empty meanwhile."""
    names = [name for name in db_names if _DB_NAME.match(name or "")]
    if not names:
        return
    if connection.in_atomic_block:
        from basalt.documents.tasks import drop_index_names

        transaction.on_commit(lambda: enqueue(drop_index_names, names))
    else:
        drop_names(names)


# --- unique violations ----------------------------------------------------------------------------
def violated_index_name(exc: BaseException) -> str | None:
    """The index an IntegrityError names (PostgreSQL diagnostics or SQLite's message)."""
    cause = exc.__cause__ or exc
    name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    if name:
        return name
    match = _SQLITE_UNIQUE.search(str(exc))
    return match.group(1) if match else None


def unique_violation_field(exc: BaseException, collection: Collection) -> str | None:
    """Name the field(s) of `collection` whose unique index `exc` violated, comma-joined, or None."""
    name = violated_index_name(exc)
    if not name:
        return None
    fields = (
        CollectionIndex.objects.filter(collection=collection, db_name=name, unique=True)
        .values_list("fields", flat=True)
        .first()
    )
    if not fields:
        return None
    return ",".join(field.lstrip("-") for field in fields)

"""PostgreSQL: an import's documents without a foreign-key trigger call per row.

`basalt_document` has two foreign keys (project, collection). PostgreSQL checks each inserted row
with one trigger call per key, deferred to the commit: about 8 µs per row and key on the
reference host, 15-20 s of a 1,000,000-document import. An import writes every document with the
project it holds locked (`SELECT … FOR UPDATE`, import_archive) and with one of the collections it
made or updated in the same transaction (Importer.collections): the checks cannot fail. What
they would do is done once per entry, as a set: `lock_parents` finds every one of those
parents and takes the lock each check would have taken (FOR KEY SHARE), so none can be deleted
before the import commits; then the COPY runs with `session_replication_role = replica`, which
skips triggers (not CHECK, NOT NULL, unique or primary keys) for this transaction's statements until
it is put back right after the COPY. Every other write to the table, and the parents' own side
of the keys (deleting a project or collection), keep their per-row checks.

Used only when the database role may set that parameter (a superuser, or `GRANT SET ON
PARAMETER session_replication_role` on PostgreSQL 15+) and the table has no trigger besides its
constraints' (a trigger added later would be skipped too: then rows are checked one by one).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import connection

TABLE = "basalt_document"


def allowed(cursor: Any) -> bool:
    """The role may skip triggers for its own statements, and the table has only its constraints' triggers."""
    if connection.pg_version >= 150000:
        cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
    else:
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
    if not cursor.fetchone()[0]:
        return False
    cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])
    return cursor.fetchone()[0] == 0


def lock_parents(cursor: Any, project_id: int, collection_ids: Iterable[int]) -> bool:
    """Every parent a document of this import can name exists and is locked as a key check would lock it."""
    ids = sorted(set(collection_ids))
    cursor.execute(
        "SELECT count(*) FROM (SELECT 1 FROM basalt_collection c JOIN basalt_project p ON p.id = c.project_id "
        "WHERE p.id = %s AND c.id = ANY(%s) FOR KEY SHARE) parents",
        [project_id, ids],
    )
    return cursor.fetchone()[0] == len(ids)


def skip_triggers(cursor: Any) -> None:
    cursor.execute("SET LOCAL session_replication_role = replica")


def restore_triggers(cursor: Any) -> None:
    cursor.execute("SET LOCAL session_replication_role = origin")

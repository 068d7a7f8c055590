"""Planner statistics for the shared documents table, kept fresh where Basalt knows they moved.

Every collection lives in `basalt_document`, each declared index is a partial expression index
(`… WHERE collection_id = N`), and a planner without statistics guesses: SQLite then preferred the
generic `(collection_id, updated_at)` index plus a sort over the declared `-score` index for
`score > X order -score` (a sort of every document of the collection, growing with the data),
and PostgreSQL with autovacuum off or late chose a bitmap scan and a sort (8.1 ms against 0.05 ms).

* After an index build (`refresh`): ANALYZE the table. PostgreSQL samples a bounded number of
  rows; SQLite is bounded by `analysis_limit`. Not inside a caller's transaction on PostgreSQL.
* On SQLite, every `SQLITE_OPTIMIZE_EVERY` document writes of a process (`note_write`):
  `PRAGMA optimize`, which re-analyses only what changed a lot since the last analysis (SQLite's
  own advice for long-lived connections). PostgreSQL leaves this to autovacuum.
"""

from __future__ import annotations

import itertools
import logging

from django.db import DatabaseError, connection

logger = logging.getLogger("basalt.documents.statistics")

SQLITE_ANALYSIS_LIMIT = 1000  # rows examined per index: bounded cost, estimates good enough to plan
SQLITE_OPTIMIZE_EVERY = 1000
_writes = itertools.count(1)


def refresh() -> None:
    """Fresh statistics for the documents table (after an index build)."""
    try:
        if connection.vendor == "postgresql":
            if not connection.in_atomic_block:
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE basalt_document")
        elif connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
                cursor.execute("ANALYZE basalt_document")
    except DatabaseError:
        logger.exception("refreshing planner statistics failed")  # plans may be worse, nothing is wrong


def note_write() -> None:
    """Count a committed document write; now and then let SQLite re-analyse what grew."""
    if connection.vendor != "sqlite" or next(_writes) % SQLITE_OPTIMIZE_EVERY or connection.in_atomic_block:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
            cursor.execute("PRAGMA optimize")
    except DatabaseError:
        logger.exception("PRAGMA optimize failed")

"""Planner statistics for the shared documents table, kept fresh where Basalt knows they moved.

Every collection lives in `basalt_document`, each declared index is a partial expression index
(`… WHERE collection_id = N`), and a planner without statistics guesses: SQLite then preferred the
generic `(collection_id, updated_at)` index plus a sort over the declared `-score` index for
`score > X order -score` (a sort of every document of the collection, growing with the data),
and PostgreSQL with autovacuum off or late chose a bitmap scan and a sort (8.1 ms against 0.05 ms).

* After an index build (`refresh`): ANALYZE the table. PostgreSQL samples a bounded number of
  rows; SQLite reads it whole (`analyze_sqlite`). Not inside a caller's transaction on PostgreSQL.
* On SQLite, every `SQLITE_OPTIMIZE_EVERY` document writes of a process, once they add up to a
  fifth of the table (`note_write`), a background task runs `PRAGMA optimize` (SQLite's own advice
  for long-lived connections) and analyses the documents table in full (`analyze_sqlite`: a bounded
  analysis misjudges every collection's size).
* On PostgreSQL, every `PG_CHECK_EVERY` creates in one collection by a process, a background task
  (`refresh_if_grown`) compares the rows the planner expects for the collection with the rows it
  has, and past `GROWTH_FACTOR` (or `GROWTH_ROWS` for a small one) ANALYZEs the table; where
  autovacuum is off (as on this machine's PostgreSQL), it runs VACUUM (ANALYZE) instead, the upkeep
  autovacuum would have done for those writes. A
  collection that grew after the ANALYZE of its index build (autovacuum off, or behind) was
  planned for its old size: 9 rows expected where 3,047 matched, a bitmap scan and a sort (3.2 ms)
  where the declared index takes 0.29 ms. The check is cheap where nothing can have grown enough
  (the table's writes since its last ANALYZE, from the statistics collector, bound any
  collection's growth), and its count stops at the growth that matters. It runs in a worker, never
  in a request: ANALYZE waits for a concurrent index build (it gives up after
  `PG_LOCK_TIMEOUT_MS`; a later check tries again), and runs at most once per
  `PG_ANALYZE_SECONDS` for the whole table. A check that could not conclude yet (the writes not
  reported, or the table analysed a moment before) looks once more later, so the end of a burst
  of creates is not left planned for the collection's old size. Updates and deletes count as
  writes too: where autovacuum is off, a check that finds the table changed as much as autovacuum
  waits for (`_vacuum_due`) vacuums it, so counts answered from an index (`Compiler.count`) stop
  visiting the rows of pages those writes left not all-visible.
* A collection of `STATISTICS_FROM_ROWS` documents or more gets statistics on the expressions of
  its declared indexes (`indexes.statistics_ddl`): at the build of an index, at the ANALYZE its
  growth brings, or at the first check that finds it that large without them (a collection that is
  most of the table never looks grown: the planner scales its estimate with the table). Smaller
  ones get none: the planner reads every statistics object of the table for every query on it.
"""

from __future__ import annotations

import itertools
import logging
import sqlite3
import time
from collections import Counter

from django.db import DatabaseError, connection, transaction

from basalt.core import loop_lane

logger = logging.getLogger("basalt.documents.statistics")

SQLITE_ANALYSIS_LIMIT = 1000  # rows examined per index by PRAGMA optimize (the other tables)
SQLITE_OPTIMIZE_EVERY = 1000
PG_CHECK_EVERY = 200
PG_CHECK_SECONDS = 10  # one queued check per collection at a time
PG_ANALYZE_SECONDS = 30
PG_LOCK_TIMEOUT_MS = 2000
# A busy backend reports its writes to the cumulative statistics at most once a second and, idle,
# within PGSTAT_IDLE_INTERVAL (10 s): a check that ran before the writes were reported looks again.
PG_STATS_LAG_SECONDS = 11
GROWTH_FACTOR = 2
GROWTH_ROWS = 500
# Where autovacuum is off, Basalt vacuums the documents table when autovacuum would have (its
# default autovacuum_vacuum_threshold / _insert_threshold and _scale_factor): see `_vacuum_due`.
VACUUM_DEAD_ROWS = 50
VACUUM_INSERTED_ROWS = 1000
VACUUM_SCALE = 0.2
# A collection's declared indexes get statistics on their field expressions (indexes.statistics_ddl)
# once it holds this many documents: below it a misjudged plan costs little, and every statistics
# object adds to the planning of every query on the shared table.
STATISTICS_FROM_ROWS = 5000
_writes = itertools.count(1)
# SQLite: the documents table is analysed again once the writes this process counted since reach
# SQLITE_GROWTH of the rows it held at its last analysis (`_analysed_rows`).
SQLITE_GROWTH = 0.2
_writes_since_analysis = 0
# Bumped by each full analysis in this process; connections that planned with an older one reload.
_sqlite_generation = 0
SQLITE_RELOAD_SECONDS = 60.0
_created: Counter[int] = Counter()
# Counts of a collection by this process between two checks of the table's vacuum (`note_count`).
PG_COUNT_CHECK_EVERY = 50
_counted: Counter[int] = Counter()


def refresh() -> None:
    """Fresh statistics for the documents table (after an index build)."""
    try:
        if connection.vendor == "postgresql":
            if not connection.in_atomic_block:
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE basalt_document")
        elif connection.vendor == "sqlite":
            analyze_sqlite()
    except DatabaseError:
        logger.exception("refreshing planner statistics failed")  # plans may be worse, nothing is wrong


def analyze_sqlite() -> None:
    """SQLite: `PRAGMA optimize` for the other tables, then the documents table analysed in full.

    A bounded analysis (`analysis_limit`) reads the first N entries of each index and puts a
    leading column's rows per value at about N / 2: every `(collection_id, …)` index then said a
    collection holds about 500 documents, whatever it held. The anchors' 19,300 posts were planned
    as 500: every `score > X order -score` page scanned and sorted the collection (25 ms) instead
    of walking the declared index (0.07 ms). In full it reads every index once (19 ms for 19,500
    rows here); it runs in the background (`note_write`), as often as the table grows by a fifth."""
    global _sqlite_generation
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit = {SQLITE_ANALYSIS_LIMIT}")
        cursor.execute("PRAGMA optimize")
        cursor.execute("PRAGMA analysis_limit = 0")
        cursor.execute("ANALYZE basalt_document")
    _sqlite_generation += 1


def _analysed_rows() -> int:
    """SQLite: the documents table's rows at its last analysis, by whichever process ran it (0 before
    any). Read once per SQLITE_OPTIMIZE_EVERY writes: a small table."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT max(CAST(stat AS INTEGER)) FROM sqlite_stat1 WHERE tbl = 'basalt_document'")
            return (cursor.fetchone() or [0])[0] or 0
    except DatabaseError:  # no analysis yet: sqlite_stat1 does not exist
        return 0


def sqlite_statistics_current() -> None:
    """SQLite: let this thread's connection plan with the latest analysis before a find.

    A connection reads `sqlite_stat1` when it opens, and an ANALYZE on another connection (the
    worker's) reaches it only through `ANALYZE sqlite_schema`: `serve`'s request threads kept
    planning the anchors' posts as 500 documents after the worker had analysed them. Reloaded when
    this process analysed since, or every SQLITE_RELOAD_SECONDS (an analysis in another process)."""
    if connection.in_atomic_block:
        return
    raw = connection.connection
    now = time.monotonic()
    seen = getattr(connection, "_basalt_statistics_seen", None)
    if (
        seen is not None
        and seen[0] == id(raw)
        and seen[1] == _sqlite_generation
        and now - seen[2] < SQLITE_RELOAD_SECONDS
    ):
        return
    # Also on a connection's first find: it may have opened (and read them) before the analysis.
    # The reload takes the write lock, so it waits while a writer holds it; on `serve`'s event loop
    # (core.loop_lane), whose connection does not wait, it fails then and is tried at the next find.
    try:
        raw.execute("ANALYZE sqlite_schema")
    except sqlite3.Error as exc:  # a plan aid: the find runs with what the connection has
        if loop_lane.deadline() is None or getattr(exc, "sqlite_errorcode", 0) & 0xFF != sqlite3.SQLITE_BUSY:
            logger.warning("reloading SQLite statistics failed", exc_info=True)
        return
    connection._basalt_statistics_seen = (id(raw), _sqlite_generation, now)


def note_write(collection_id: int | None = None, created: bool = True) -> None:
    """Count a committed document write (a create, or with `created=False` an update or a delete);
    now and then let the database re-analyse what grew, or vacuum what changed (`refresh_if_grown`)."""
    if connection.vendor == "postgresql":
        if collection_id is not None:
            _note_growth(int(collection_id))
        return
    if not created:
        return  # SQLite's analysis follows the table's growth only
    if connection.vendor != "sqlite" or next(_writes) % SQLITE_OPTIMIZE_EVERY or connection.in_atomic_block:
        return
    global _writes_since_analysis
    _writes_since_analysis += SQLITE_OPTIMIZE_EVERY
    if _writes_since_analysis < _analysed_rows() * SQLITE_GROWTH:
        return  # a full analysis reads the whole table: not before it has grown by a fifth
    _writes_since_analysis = 0
    from basalt.documents.jobs import enqueue
    from basalt.documents.tasks import analyze_statistics

    enqueue(analyze_statistics)


def _note_growth(collection_id: int) -> None:
    _created[collection_id] += 1
    if _created[collection_id] < PG_CHECK_EVERY:
        return
    del _created[collection_id]
    transaction.on_commit(lambda: _queue_check(collection_id))


def note_count(collection_id: int) -> None:
    """Count a count asked of a collection; now and then, where autovacuum is off, let a check vacuum
    the table once VACUUM_DEAD_ROWS rows died or VACUUM_INSERTED_ROWS came since the last vacuum.

    Counts are what the visibility map serves (`Compiler.count`: index-only scans) and a burst of
    writes followed at once by counts (the anchors' phase d after phase c) met pages the burst left
    not all-visible, read from the table row by row; the write-side check waits for autovacuum's
    bar, then for a second look (`_vacuum_due`). Throttled like every vacuum (PG_ANALYZE_SECONDS); a
    vacuum reads only the pages not all-visible, and PostgreSQL 14+ skips the indexes when few pages
    hold dead rows (INDEX_CLEANUP AUTO), so on a large table it costs about what changed."""
    if connection.vendor != "postgresql":
        return
    _counted[collection_id] += 1
    if _counted[collection_id] < PG_COUNT_CHECK_EVERY:
        return
    del _counted[collection_id]
    # After the caller's transaction (a batch's reads): a check inside it would run inside it.
    transaction.on_commit(lambda: _queue_check(collection_id, look_again=False))


def _queue_check(collection_id: int, look_again: bool = True) -> None:
    from django.core.cache import cache

    from basalt.documents.jobs import enqueue
    from basalt.documents.tasks import refresh_statistics

    try:
        if not cache.add(_key("check", collection_id), 1, PG_CHECK_SECONDS):
            return  # one is queued already, by this process or another
    except Exception:  # a cache outage must not fail a committed write; the next check retries
        logger.warning("could not schedule a statistics check", exc_info=True)
        return
    if look_again:
        enqueue(refresh_statistics, collection_id)
    else:
        enqueue(refresh_statistics, collection_id, False)


def _key(what: str, collection_id: int | None = None) -> str:
    # Several Basalt databases may share one cache, and collection ids repeat between them.
    return f"basalt:statistics:{connection.settings_dict['NAME']}:{what}:{collection_id or ''}"


def refresh_if_grown(collection_id: int, look_again: bool = True) -> bool:
    """ANALYZE the documents table when a collection has outgrown what the planner believes of it."""
    from django.core.cache import cache

    if connection.vendor != "postgresql":
        return False
    collection_id = int(collection_id)
    try:
        with connection.cursor() as cursor:
            grown = _outgrown(cursor, collection_id)
        # PostgreSQL scales a collection's estimate with the table's size, so a collection that was
        # most of the table when analysed never looks grown, and never got the statistics of its
        # indexed fields (the anchors' 19,300 posts: none; a tag's page then sorted every match).
        unmeasured = not grown and _lacks_statistics(collection_id)
        vacuum_due = not (grown or unmeasured) and _vacuum_due(collection_id, look_again)
        if grown is None and look_again and not (unmeasured or vacuum_due):
            # A burst of creates can end before its writes are reported: without a second look the
            # collection kept its stale plans until its next creates (measured: a whole benchmark).
            _look_again_later(collection_id, PG_STATS_LAG_SECONDS)
        if not (grown or unmeasured or vacuum_due):
            return False
        if not cache.add(_key("analyze"), 1, PG_ANALYZE_SECONDS):
            # The table was analysed a moment ago, perhaps before this growth: look once more then.
            if look_again:
                _look_again_later(collection_id, PG_ANALYZE_SECONDS + 1)
            return False
        if large_enough(collection_id):
            _add_statistics(collection_id)
        if not connection.in_atomic_block and _autovacuum_off():
            _vacuum_analyze()
        else:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"SET LOCAL lock_timeout = {int(PG_LOCK_TIMEOUT_MS)}")
                cursor.execute("ANALYZE basalt_document")
    except DatabaseError:
        logger.warning("ANALYZE after collection %s grew did not run", collection_id, exc_info=True)
        return False
    finally:
        cache.delete(_key("check", collection_id))
    logger.info("collection %s outgrew its planner statistics: analysed", collection_id)
    return True


def _vacuum_due(collection_id: int | None = None, look_again: bool = False) -> bool:
    """Where autovacuum is off: whether the documents table has changed enough since its last vacuum
    that autovacuum would vacuum it now (its default thresholds, rows inserted or dead).

    Updates and deletes clear pages' all-visible bits, and only a vacuum sets them again: until then
    a count answered from an index (a collection's count of all, its public documents' count)
    visits the table for every row of such a page. With autovacuum on it is autovacuum's job.
    Changes short of that bar (the end of a burst of writes) are looked at once more after a pause
    (`look_again` with the collection): a second look vacuums past VACUUM_DEAD_ROWS dead or
    VACUUM_INSERTED_ROWS new rows, so a burst does not leave its last pages to be read from the
    table until the next burst. (A burst followed at once by counts, as the anchors' phase d follows
    phase c, still meets pages not yet vacuumed: on a default PostgreSQL too, whose autovacuum waits
    for a fifth of the table and up to a minute.)"""
    if connection.in_atomic_block or not _autovacuum_off():
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.n_dead_tup, s.n_ins_since_vacuum, greatest(c.reltuples, 0) FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid WHERE s.relid = 'basalt_document'::regclass"
        )
        found = cursor.fetchone()
    if found is None:
        return False
    dead, inserted = found[0] or 0, found[1] or 0
    scale = 0 if collection_id is not None and not look_again else VACUUM_SCALE * found[2]
    if dead > VACUUM_DEAD_ROWS + scale or inserted > VACUUM_INSERTED_ROWS + scale:
        return True
    if look_again and collection_id is not None and (dead > VACUUM_DEAD_ROWS or inserted > VACUUM_INSERTED_ROWS):
        _look_again_later(collection_id, PG_STATS_LAG_SECONDS)
    return False


def _autovacuum_off() -> bool:
    """Whether PostgreSQL leaves the documents table unvacuumed (autovacuum off, for it or for all)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('autovacuum') = 'off' OR EXISTS (SELECT 1 FROM pg_class c, "
            "pg_options_to_table(c.reloptions) o WHERE c.oid = 'basalt_document'::regclass "
            "AND o.option_name = 'autovacuum_enabled' AND o.option_value IN ('false', 'off', '0', 'no'))"
        )
        return bool(cursor.fetchone()[0])


def _vacuum_analyze() -> None:
    """VACUUM (ANALYZE) where autovacuum would have: it marks the pages whose rows every transaction
    sees, which lets a count of a collection read only the `(project, collection)` index (19,300
    documents: 21-30 ms through the table, 2-4 ms through the index) and reclaims what updates and
    deletes left behind. Outside a transaction (VACUUM cannot run in one), so the lock timeout is
    set for the session and put back."""
    with connection.cursor() as cursor:
        cursor.execute(f"SET lock_timeout = {int(PG_LOCK_TIMEOUT_MS)}")
        try:
            cursor.execute("VACUUM (ANALYZE) basalt_document")
        finally:
            cursor.execute("RESET lock_timeout")


def large_enough(collection_id: int) -> bool:
    """PostgreSQL: whether the collection holds at least STATISTICS_FROM_ROWS documents (counted no
    further than that). False when the count fails: statistics are a plan aid, never a failure."""
    if connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            return _holds_at_least(cursor, collection_id, STATISTICS_FROM_ROWS)
    except DatabaseError:
        logger.warning("could not count collection %s's documents", collection_id, exc_info=True)
        return False


def _lacks_statistics(collection_id: int) -> bool:
    """A collection large enough for statistics on its indexed fields that lacks some of them."""
    from basalt.documents.indexes import lack_statistics
    from basalt.documents.models import CollectionIndex

    ready = CollectionIndex.objects.filter(collection_id=collection_id, status=CollectionIndex.READY)
    return lack_statistics(ready) and large_enough(collection_id)


def _add_statistics(collection_id: int) -> None:
    """Statistics for the ready declared indexes of a collection that has grown large enough."""
    from basalt.documents.indexes import add_statistics
    from basalt.documents.models import CollectionIndex

    add_statistics(CollectionIndex.objects.filter(collection_id=collection_id, status=CollectionIndex.READY))


def _look_again_later(collection_id: int, seconds: int) -> None:
    """One more check of the collection in `seconds` (a second look does not ask for a third)."""
    from django.core.cache import cache

    from basalt.documents.jobs import enqueue
    from basalt.documents.tasks import refresh_statistics

    if cache.add(_key("again", collection_id), 1, seconds):
        enqueue(refresh_statistics, collection_id, False, countdown=seconds)


def _outgrown(cursor, collection_id: int) -> bool | None:
    """True past the growth threshold, False short of it; None when the table's reported writes
    cannot account for that growth yet (they may not all be reported: see PG_STATS_LAG_SECONDS)."""
    from basalt.documents.query.engine import planner_rows

    # The id as a literal: the estimate for this collection, not a plan for any id.
    expected = planner_rows(f"SELECT 1 FROM basalt_document WHERE collection_id = {int(collection_id)}")  # noqa: S608
    grown = max(expected * GROWTH_FACTOR, expected + GROWTH_ROWS)
    if _reported_writes(cursor) < grown - expected:
        return None  # fewer writes reported for the whole table than this collection would need to have grown
    return _holds_at_least(cursor, collection_id, grown)


def _holds_at_least(cursor, collection_id: int, rows: int) -> bool:
    """Whether the collection holds `rows` documents, counted no further than that."""
    cursor.execute(
        "SELECT count(*) FROM (SELECT 1 FROM basalt_document WHERE collection_id = %s LIMIT %s) AS rows",
        [int(collection_id), rows],
    )
    return cursor.fetchone()[0] >= rows


def _reported_writes(cursor) -> int:
    """Rows written to the documents table since its last ANALYZE, as reported so far."""
    cursor.execute("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relid = 'basalt_document'::regclass")
    written = cursor.fetchone()
    return 0 if written is None else written[0] or 0

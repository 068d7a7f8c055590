"""The change log's sequencer, and the announcement of numbered rows to whoever listens (realtime,
later webhooks), never before commit.

The documents floor knows nothing of its listeners: a higher area registers one at start-up.

How rows get their `seq` (see README.md beside this file, "The change log"):

- SQLite (one writer at a time anyway): the writer bumps the project's counter and writes the
  numbered row inside its transaction; the row is announced from `transaction.on_commit`.
- PostgreSQL: the writer inserts the row without a seq, so no writer holds the project's counter
  row while its transaction is open. The last statement of a write transaction
  (`write_transaction`) numbers the project's unnumbered rows it can see (its own, and committed
  ones left behind) in insert order, in one round trip (`basalt_number_changes`, migration 0004),
  if the project's advisory lock is free: the numbering then shares the write's commit and its
  WAL flush, and the lock is held only for that statement and the commit. A writer that found
  the lock taken does not queue for it: its rows go in unnumbered, and once it has committed it
  asks its process's settler thread (`_Settler`) to pass over the project (`settle`) until they
  are numbered, by that pass (the lock was free) or by the holder of the moment (whose
  statement, begun after our commit, sees them), with short pauses, a few times. One pass serves
  every writer of the project that asked before it began, and the request thread answers at
  once. A writer that numbered its rows itself asks for no pass: that pass, one round trip per
  write, found nothing as a rule. A row left behind all the same (every pass found the lock taken
  and the rows still there, or the process died) is numbered by the next write in the project,
  by a realtime process's once-a-second sweep, or by any reader that needs the position
  (`positions`, the purge walk).

Readers see a seq only once it is committed together with the project's counter, and every lower
seq with it, so a reader tailing by seq never skips a row; a document's writes are numbered in the
order they committed (the second writer waited for the first's row lock, so its row is inserted,
and numbered, after).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import connection, transaction

from basalt.documents.models import ChangeSequence

logger = logging.getLogger("basalt.documents.changefeed")


@dataclass(frozen=True)
class Change:
    """One committed change-log row, as the listeners receive it."""

    project_id: int
    seq: int
    collection: str
    document_id: str
    type: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    row_id: int = 0  # the row's primary key (PostgreSQL: known before its seq)


Listener = Callable[[Change], None]
_listeners: list[Listener] = []


def register(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def unregister(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def _deliver(change: Change) -> None:
    for listener in list(_listeners):
        try:
            listener(change)
        except Exception:  # a listener's outage must never fail the write that already committed
            logger.exception("change listener %r failed for seq %s", listener, change.seq)


def announce(change: Change) -> None:
    """Hand a numbered row to every listener once the surrounding transaction commits (SQLite)."""
    if _listeners:
        transaction.on_commit(lambda: _deliver(change))


# --- PostgreSQL: numbered at the end of the writer's transaction, and passed over after commit ----
BATCH = 5000  # rows numbered per pass: bounded memory for the announcement
PASSES = 4  # a lock holder passes again while it finds rows, at most this often per write
# A writer whose rows went in unnumbered passes after its commit, then again after these pauses
# while the lock is taken and unnumbered rows remain (a holder's statement and commit take about
# a millisecond).
SETTLE_PAUSES = (0.0, 0.001, 0.002, 0.004, 0.008)


class _NumberAfterCommit:
    """The on-commit callback of a transaction that wrote rows of a project (one per project).

    `settled` once the transaction's rows of the project were numbered in place (or found the lock
    taken there): nothing is left to do before the commit. `numbered`: the rows the transaction
    numbered itself, announced first. `unnumbered`: some of its rows went in without a seq (the
    lock was taken), so it passes after the commit until they have one."""

    def __init__(self, project_id: int):
        self.project_id = project_id
        self.settled = False
        self.unnumbered = True
        self.numbered: list[Change] = []

    def __call__(self) -> None:
        for change in self.numbered:
            _deliver(change)
        if self.unnumbered:
            _settler.ask(self.project_id)


def _callbacks() -> list[_NumberAfterCommit]:
    return [
        callback for _sids, callback, _robust in connection.run_on_commit if isinstance(callback, _NumberAfterCommit)
    ]


def number_after_commit(project_id: int, settled: bool = False) -> _NumberAfterCommit:
    """PostgreSQL: a row of this project was written in this transaction; unless `settled` (numbered
    in place), it is numbered before the commit or by a pass after it."""
    for callback in _callbacks():
        if callback.project_id == project_id:
            callback.settled = settled  # a later unnumbered row unsettles an earlier numbering
            return callback  # a rolled-back savepoint drops its own callback; the next write adds one
    callback = _NumberAfterCommit(project_id)
    callback.settled = settled
    transaction.on_commit(callback)
    return callback


_outermost_write: ContextVar[bool] = ContextVar("outermost_write", default=False)


@contextmanager
def write_transaction() -> Iterator[None]:
    """`transaction.atomic()` for a write; when it is the outermost block, its last statement numbers
    the change-log rows it wrote, so the numbering shares the write's commit (one WAL flush, not two)
    and the project's sequencer lock is held only for that statement and the commit."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        token = _outermost_write.set(outermost)
        try:
            yield
        finally:
            _outermost_write.reset(token)
        if outermost and connection.vendor == "postgresql":
            _number_before_commit()


def may_number_in_place() -> bool:
    """Whether a change-log row written now may be numbered as it is inserted: PostgreSQL, directly
    in the outermost block of a `write_transaction` (no savepoint open that could still roll it
    back). The caller also promises it is the transaction's last statement."""
    return _outermost_write.get() and not connection.savepoint_ids and connection.vendor == "postgresql"


def numbered_in_place(project_id: int, rows: list[tuple], before: Any, after: Any) -> None:
    """`basalt_log_change` ran (migration 0008): announce what it numbered once committed. Its rows
    end with the writer's own, returned without before/after (given here); none: the lock was taken."""
    callback = number_after_commit(project_id, settled=True)
    _note_numbered(callback, rows, before, after)


def may_write_alone() -> bool:
    """PostgreSQL with no transaction open: a write that is one statement (its change-log row
    included, `basalt_log_change` as its last step) commits on its own, without the BEGIN and
    COMMIT round trips of a transaction block."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block and connection.get_autocommit()


def written_alone(project_id: int, rows: list[tuple], before: Any, after: Any) -> None:
    """A write and its `basalt_log_change` ran as one statement, which has committed: announce what
    it numbered or, if it found the lock taken, settle its row, as after any commit."""
    callback = _NumberAfterCommit(project_id)
    _note_numbered(callback, rows, before, after)
    callback()


def _note_numbered(callback: _NumberAfterCommit, rows: list[tuple], before: Any, after: Any) -> None:
    # No row: the lock was taken and ours went in unnumbered. Rows: the lock was ours, and it stays
    # ours (advisory locks are re-entrant) until the commit, so every later row is numbered too.
    callback.unnumbered = not rows
    if rows and _listeners:
        *others, (row_id, seq, collection, document_id, kind, _before, _after) = rows
        callback.numbered += _changes(callback.project_id, others)
        callback.numbered.append(Change(callback.project_id, seq, collection, document_id, kind, before, after, row_id))


def _number_before_commit() -> None:
    for callback in _callbacks():
        if callback.settled:
            continue
        # Nothing numbered means the lock is taken (our own rows are pending and visible to us):
        # the rows stay for our passes after the commit (`settle`), or the holder's statement.
        rows = batch = _number(callback.project_id)
        while len(batch) == BATCH:  # older rows left behind filled the batch: ours may be next
            batch = _number(callback.project_id)
            rows += batch
        callback.unnumbered = not rows
        if rows and _listeners:
            callback.numbered += _changes(callback.project_id, rows)


def number_pending(project_id: int, passes: int = PASSES) -> int:
    """Number the project's committed unnumbered rows unless another session is at it; announce them.

    Passes again while it finds rows; an empty pass writes nothing, so costs no WAL flush. Run by
    a writer whose rows went in unnumbered (`settle`) and by the sweep. Returns how many rows this
    call numbered."""
    numbered = 0
    for _ in range(passes):
        rows = _number(project_id)
        numbered += len(rows)
        if _listeners:
            for change in _changes(project_id, rows):
                _deliver(change)
        if not rows:
            return numbered
    return numbered


def settle(project_id: int) -> None:
    """After the commit of a writer whose rows went in unnumbered: pass until they are numbered.

    A pass that numbers anything held the lock after our commit, so it numbered ours. A pass that
    finds the lock taken cannot tell whether the holder's statement saw our rows: if no committed
    row of the project is left unnumbered, it did (or another pass did)."""
    for pause in SETTLE_PAUSES:
        if pause:
            time.sleep(pause)
        if number_pending(project_id) or not _any_unnumbered(project_id):
            return


class _Settler:
    """One thread per process that settles the projects whose writers' rows went in unnumbered.

    Writers used to pass over their project themselves after their commit: under 16 concurrent
    creates half of them found the lock taken, and their passes (one to five each, with pauses)
    were more round trips than the creates, on the request threads. Here a pass begun after a
    writer asked (so after its commit) sees the writer's rows, whoever else asked meanwhile."""

    def __init__(self) -> None:
        self._reset()
        # A forked worker starts afresh: its parent's thread is not in it, and the lock may have
        # been held at the fork.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._asked: set[int] = set()
        self._busy = 0
        self._changed = threading.Condition()
        self._running = False

    def ask(self, project_id: int) -> None:
        with self._changed:
            self._asked.add(project_id)
            if not self._running:
                self._running = True
                threading.Thread(target=self._run, name="basalt-changelog-settler", daemon=True).start()
            self._changed.notify()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is asked or being settled (tests read the log after it)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._asked or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._asked:
                    self._changed.wait()
                projects, self._asked = sorted(self._asked), set()
                self._busy = len(projects)
            for project_id in projects:
                try:
                    settle(project_id)
                except Exception:  # the writes committed; the sweep or the next write numbers the rows
                    logger.exception("numbering the change log of project %s failed", project_id)
            try:  # the pooled connection goes back between batches, never held while idle
                connection.close()
            except Exception:
                logger.exception("closing the settler's database connection failed")
            with self._changed:
                self._busy = 0
                self._changed.notify_all()


_settler = _Settler()


def wait_settled(timeout: float = 10.0) -> bool:
    """Whether this process's settler went idle within `timeout` seconds."""
    return _settler.wait_idle(timeout)


def latest_seq(project_id: int) -> int:
    """The project's last numbered seq (0 before its first write): the counter `basalt_change_seq`."""
    return ChangeSequence.objects.filter(project_id=project_id).values_list("change_seq", flat=True).first() or 0


def _any_unnumbered(project_id: int) -> bool:
    with connection.cursor() as cursor:  # the partial index change_log_unnumbered answers this
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM basalt_change_log WHERE project_id = %s AND seq IS NULL)", [project_id]
        )
        return cursor.fetchone()[0]


def _number(project_id: int) -> list[tuple]:
    """One round trip (migration 0004): the rows this call numbered, none when the lock is taken."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM basalt_number_changes(%s, %s)", [project_id, BATCH])
        return cursor.fetchall()


def _changes(project_id: int, rows: list[tuple]) -> list[Change]:
    return [
        Change(project_id, seq, collection, document_id, kind, _json(before), _json(after), row_id)
        for row_id, seq, collection, document_id, kind, before, after in sorted(rows, key=lambda r: r[1])
    ]


def number_all_pending(project_ids: list[int] | None = None) -> int:
    """The sweep: number every committed row left without a seq (in these projects, or all)."""
    if connection.vendor != "postgresql":
        return 0
    sql = "SELECT DISTINCT project_id FROM basalt_change_log WHERE seq IS NULL"
    params: list[Any] = []
    if project_ids is not None:
        sql += " AND project_id = ANY(%s)"
        params.append(list(project_ids))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = [row[0] for row in cursor.fetchall()]
    return sum(number_pending(project_id) for project_id in found)


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value

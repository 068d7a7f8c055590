"""The one place webhooks touch the change log: hear of commits, read rows in seq order, know the head.

Kept small on purpose: when the change-log sequencer changes, only this module adapts.
"""

from __future__ import annotations

from basalt.documents import changefeed
from basalt.documents.changefeed import Change
from basalt.realtime.changes import read_range

__all__ = ["Change", "head", "listen", "number_left_behind", "read_after"]


def read_after(project_id: int, after: int, limit: int) -> list[Change]:
    """Committed rows with seq > after up to the committed head, in seq order, at most `limit`."""
    return read_range(project_id, after, head(project_id), limit)


def head(project_id: int) -> int:
    """The last committed seq of the project's change log."""
    return changefeed.latest_seq(project_id)


def number_left_behind(project_ids: list[int]) -> None:
    """PostgreSQL numbers rows after commit; a row left unnumbered (its writer died after commit, or
    no realtime process runs its once-a-second sweep) would hold webhooks back until the next write."""
    changefeed.number_all_pending(project_ids)


def _on_commit(change: Change) -> None:
    from basalt.hooks import dispatch

    dispatch.wake(change.project_id)


def listen() -> None:
    """Called once at start-up: every committed change wakes the project's dispatcher (if it has endpoints)."""
    changefeed.register(_on_commit)

"""Read the change log for realtime: ranges in seq order, positions, and the retention check."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from basalt.core.errors import BasaltError
from basalt.documents import changefeed
from basalt.documents.changefeed import Change
from basalt.documents.models import ChangeLogEntry
from basalt.projects.models import Project

# One read never loads more rows than this; a consumer further behind continues on the next read.
MAX_ROWS = 1000
# A `since` further behind than this replays nothing: the client refetches (bounded memory).
MAX_REPLAY = 10_000


class ResyncRequired(BasaltError):
    code = "resync_required"
    default_message = "The position is outside the change log's retention; refetch, then subscribe again."


def _change(row: ChangeLogEntry) -> Change:
    return Change(row.project_id, row.seq, row.collection, row.document_id, row.type, row.before, row.after, row.id)


def read_range(project_id: int, after: int, upto: int | None = None, limit: int = MAX_ROWS) -> list[Change]:
    """Numbered rows with after < seq <= upto, in seq order (every lower seq is there too)."""
    rows = ChangeLogEntry.objects.filter(project_id=project_id, seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    return [_change(row) for row in rows.order_by("seq")[:limit]]


def positions(project_ids: list[int]) -> dict[int, int]:
    """The last numbered seq of each project, once rows left unnumbered are numbered (the sweep)."""
    changefeed.number_all_pending(project_ids)
    latest = Coalesce(F("change_sequence__change_seq"), Value(0))
    return dict(Project.objects.filter(id__in=project_ids).values_list("id", latest))


def replay(project_id: int, since: int, upto: int, retention_hours: int) -> list[Change]:
    """Every row after `since` up to `upto`, or ResyncRequired when part of it is gone or too old."""
    if since > upto:
        raise ResyncRequired("The position is ahead of this project's change log.")
    if since == upto:
        return []
    if upto - since > MAX_REPLAY:
        raise ResyncRequired()
    rows = list(ChangeLogEntry.objects.filter(project_id=project_id, seq__gt=since, seq__lte=upto).order_by("seq"))
    oldest = timezone.now() - timedelta(hours=retention_hours)
    if not rows or rows[0].seq != since + 1 or rows[0].created_at < oldest:
        raise ResyncRequired()
    return [_change(row) for row in rows]


def repeatable_read() -> None:
    """Make the surrounding transaction one snapshot (PostgreSQL); SQLite's IMMEDIATE one already is."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def unnumbered_ids(project_id: int) -> set[int]:
    """Committed rows not numbered yet (PostgreSQL, briefly): they will be numbered after the
    position read in the same snapshot, yet a snapshot read with it already shows their writes."""
    if connection.vendor != "postgresql":
        return set()
    return set(ChangeLogEntry.objects.filter(project_id=project_id, seq__isnull=True).values_list("id", flat=True))


project_seq = changefeed.latest_seq  # the position subscriptions start from

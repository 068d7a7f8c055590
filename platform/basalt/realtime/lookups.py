"""The engine's database work, run in a worker thread: callers re-checked, a subscription's start read."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, InvalidOperation, InvalidQuery
from basalt.documents.cache import Schema, project_schemas, schema_for
from basalt.documents.finding import find_documents
from basalt.projects.caller import with_bearer
from basalt.projects.keys import resolve_key
from basalt.projects.models import Project
from basalt.realtime import changes
from basalt.realtime.config import realtime_settings
from basalt.realtime.subscriptions import Subscription, event_for, judge, prefetch_rows
from basalt.realtime.visibility import viewer_for

MAX_SNAPSHOT = 10_000


def refresh(
    project_id: int, reload: bool, identities: list[tuple[str, str | None]]
) -> tuple[Project | None, dict[str, Schema], dict[tuple[str, str | None], Caller | BasaltError]]:
    project, schemas = None, {}
    if reload:
        project = Project.objects.filter(pk=project_id).first()
        schemas = project_schemas(project) if project is not None else {}
    # Thousands of connections share a handful of keys: each key is looked up once per round (with
    # the project's caller epoch, so each token's cached resolution is trusted only while nothing
    # that could change its caller happened), not once per connection.
    keys: dict[str, Caller | BasaltError] = {}
    verdicts: dict[tuple[str, str | None], Caller | BasaltError] = {}
    for key_raw, token in set(identities):
        verdicts[(key_raw, token)] = resolve_identity(key_raw, token, keys)
    return project, schemas, verdicts


def resolve_identity(
    key_raw: str, token: str | None, keys: dict[str, Caller | BasaltError] | None = None
) -> Caller | BasaltError:
    """The caller for a key and an optional access token, or the error that refuses it.

    `keys` carries the key callers already resolved in this round."""
    from basalt.realtime import console_stream  # it imports the hub, which imports this module

    if console_stream.is_console_identity(key_raw):
        return console_stream.recheck(key_raw)
    caller = keys.get(key_raw) if keys is not None else None
    if caller is None:
        try:
            caller = Caller.for_key(resolve_key(key_raw))
        except BasaltError as exc:
            caller = exc
        if keys is not None:
            keys[key_raw] = caller
    if isinstance(caller, BasaltError) or token is None:
        return caller
    try:
        return with_bearer(caller, token)
    except BasaltError as exc:
        return exc


def lost_ids(before: Caller, after: Caller, sub: Subscription) -> list[str]:
    """Ids the subscription matches under the caller's old principals but not under its new ones.

    Both sides are the subscription's own query, read in one database snapshot and capped like a
    snapshot (past the cap: `resync_required`), so the work is bounded and nothing is tracked per
    document sent. Raises what a find would (lost `find`, a `where` on a field now hidden)."""
    with transaction.atomic():
        changes.repeatable_read()
        old = _matching_ids(before, sub)
        return sorted(old - _matching_ids(after, sub))


def _matching_ids(caller: Caller, sub: Subscription) -> set[str]:
    found: set[str] = set()
    cursor = None
    while True:
        page = find_documents(caller, sub.collection, {"where": sub.where_raw or {}, "limit": 1000, "cursor": cursor})
        found.update(doc["id"] for doc in page["results"])
        if len(found) > MAX_SNAPSHOT:
            raise changes.ResyncRequired(
                f"Access changed for more than {MAX_SNAPSHOT} matching documents; refetch, then subscribe again."
            )
        cursor = page["next_cursor"]
        if not cursor:
            return found


def prepare(caller: Caller, sub: Subscription) -> tuple[int, list[dict[str, Any]]]:
    """Read the subscription's starting position, with its snapshot or its replay, in one snapshot."""
    project_id = caller.project.id
    if sub.snapshot and sub.since is not None:
        raise InvalidOperation("Ask for either `snapshot` or `since`, not both.")
    with transaction.atomic():
        changes.repeatable_read()
        start = changes.project_seq(project_id)
        if sub.since is not None:
            retention = realtime_settings(caller.project).retention_hours
            rows = changes.replay(project_id, sub.since, start, retention)
            schema = schema_for(caller.project, sub.collection)
            viewer = viewer_for(caller, schema)
            mine = [row for row in rows if row.collection == sub.collection]
            found = prefetch_rows(project_id, {sub.collection: schema}, mine)
            events = []
            for row in mine:
                if row.collection == sub.collection:
                    event = event_for(sub, row, judge(viewer, row), found.get(row.seq))
                    if event is not None:
                        events.append(event)
            return start, events
        if not sub.snapshot:
            return start, []
        # Writes the snapshot shows whose rows get their seq only after `start`: not events again.
        sub.extra["already_shown"] = changes.unnumbered_ids(project_id)
        documents: list[dict[str, Any]] = []
        cursor = None
        while True:
            raw: dict[str, Any] = {"where": sub.where_raw or {}, "limit": 1000, "cursor": cursor}
            if sub.fields is not None:
                raw["fields"] = sorted(sub.fields)
            page = find_documents(caller, sub.collection, raw)
            documents.extend(page["results"])
            cursor = page["next_cursor"]
            if len(documents) > MAX_SNAPSHOT:
                raise InvalidQuery(f"The snapshot would exceed {MAX_SNAPSHOT} documents; narrow the where.")
            if not cursor:
                break
        return start, [{"op": "snapshot", "id": sub.id, "documents": documents, "seq": str(start)}]

"""A live query: its parsed `where`, options and position, and the events a change means for it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery
from basalt.documents import render
from basalt.documents.cache import Schema, schema_for
from basalt.documents.changefeed import Change
from basalt.documents.finding import project_limits
from basalt.documents.query import check_hidden, parse_query
from basalt.documents.query.nodes import Node
from basalt.realtime import matcher
from basalt.realtime.visibility import Viewer, stored_form, viewer_for

if TYPE_CHECKING:
    from basalt.realtime.connection import Connection


@dataclass(eq=False)
class Subscription:
    conn: Connection
    id: str
    collection: str
    where_raw: Any
    where: Node | None
    fields: frozenset[str] | None
    since: int | None = None
    snapshot: bool = False
    pos: int = 0  # the last seq this subscription has been given (or judged irrelevant)
    extra: dict[str, Any] = field(default_factory=dict)
    # Subscriptions with equal query keys match the same documents: a fan-out evaluates the
    # `where` once per (principal set, query key), not once per subscriber.
    query_key: bytes = field(init=False)

    def __post_init__(self) -> None:
        try:
            self.query_key = orjson.dumps(self.where_raw, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # e.g. an integer past 64 bits: this subscription shares no evaluation
            self.query_key = b"#%d" % id(self)

    @property
    def project_id(self) -> int:
        return self.conn.caller.project.id

    def shown_in_snapshot(self, change: Change) -> bool:
        """A change whose write the snapshot already showed though its seq came after the
        snapshot's (PostgreSQL numbers rows just after commit): not sent again."""
        shown = self.extra.get("already_shown")
        if not shown or change.row_id not in shown:
            return False
        shown.discard(change.row_id)
        return True


def prepare(caller: Caller, collection: Any, where: Any, fields: Any) -> tuple[Schema, Node | None, frozenset | None]:
    """Check a subscribe request like a find: collection, `find` permission, where, protected fields."""
    schema = schema_for(caller.project, collection)
    viewer = viewer_for(caller, schema)
    raw: dict[str, Any] = {"where": where if where is not None else {}}
    if fields is not None:
        raw["fields"] = fields
    query = parse_query(schema.collection, raw, project_limits(caller.project))
    operator = matcher.unsupported(query.where)
    if operator:
        raise InvalidQuery(
            f"{operator} is not supported in subscriptions; query it with find.", details={"operator": operator}
        )
    # A filter on a field the caller may not read would be an oracle: refused as REST refuses it.
    check_hidden(query, viewer.hidden)
    return schema, query.where, frozenset(query.fields) if query.fields else None


def event_type(kind: str, before_in: bool, after_in: bool) -> str | None:
    """What a change means to one subscriber, given whether it saw the document before and after."""
    if kind == "create":
        return "create" if after_in else None
    if kind == "delete":
        return "delete" if before_in else None
    if before_in and after_in:
        return "update"
    if after_in:
        return "enter"
    if before_in:
        return "leave"
    return None


@dataclass
class Judged:
    """One change judged once for one principal set: visibility before and after."""

    viewer: Viewer
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    before_visible: bool
    after_visible: bool


def judge(viewer: Viewer, change: Change) -> Judged:
    before = stored_form(viewer.schema, change.before)
    after = stored_form(viewer.schema, change.after)
    return Judged(
        viewer,
        before,
        after,
        viewer.sees(change.before, before and before["data"]),
        viewer.sees(change.after, after and after["data"]),
    )


def event_kind(sub: Subscription, change: Change, judged: Judged) -> str | None:
    before_in = judged.before_visible and matcher.matches(sub.where, judged.before)
    after_in = judged.after_visible and matcher.matches(sub.where, judged.after)
    return event_type(change.type, before_in, after_in)


def event_document(
    sub: Subscription, change: Change, judged: Judged, kind: str, found: list[Any] | None = None
) -> dict[str, Any]:
    """The document of an event. `found` is `render.prefetch` for the change (None: nothing to
    prefetch): caller-aware fields (files) then read exactly as a REST GET by this caller renders them."""
    if kind in ("create", "update", "enter") or (kind == "leave" and judged.after_visible):
        document = judged.viewer.present(change.after, sub.fields)
        if found is not None:
            render.apply(judged.viewer.caller, judged.viewer.schema, [document], found)
        return document
    # Deleted, or no longer readable: only the id, never contents the caller may not read now.
    return {"id": change.document_id}


def previous_document(sub: Subscription, change: Change, judged: Judged, kind: str) -> dict[str, Any] | None:
    """The document before the change as this caller may read it (`Connection.wants_previous`):
    only a state the caller's ACL let it read then, presented like any event (protected fields
    and `fields` applied); nothing for a create or when the earlier state was not readable."""
    if kind == "create" or change.before is None or not judged.before_visible:
        return None
    return judged.viewer.present(change.before, sub.fields)


def prefetch_rows(project_id: int, schemas: dict[str, Schema], rows: list[Change]) -> dict[int, list[Any]]:
    """Per change (by seq), what caller-aware rendering needs (database work: one read per collection)."""
    found: dict[int, list[Any]] = {}
    by_collection: dict[str, list[Change]] = {}
    for row in rows:
        schema = schemas.get(row.collection)
        if schema is not None and row.after is not None and render.concerned(schema):
            by_collection.setdefault(row.collection, []).append(row)
    for name, collected in by_collection.items():
        shared = render.prefetch(project_id, schemas[name], [row.after for row in collected])
        for row in collected:
            found[row.seq] = shared
    return found


def event_for(
    sub: Subscription, change: Change, judged: Judged, found: list[Any] | None = None
) -> dict[str, Any] | None:
    kind = event_kind(sub, change, judged)
    if kind is None:
        return None
    document = event_document(sub, change, judged, kind, found)
    event = {"op": "event", "id": sub.id, "type": kind, "document": document, "seq": str(change.seq)}
    if sub.conn.wants_previous:
        previous = previous_document(sub, change, judged, kind)
        if previous is not None:
            event["previous"] = previous
    return event


def event_text(sub_id: str, kind: str, document_json: str, seq: int, previous_json: str | None = None) -> str:
    """The same message as `event_for`, assembled from a document serialised once per principal set."""
    previous = f',"previous":{previous_json}' if previous_json is not None else ""
    return (
        f'{{"op":"event","id":{orjson.dumps(sub_id).decode()},"type":"{kind}",'
        f'"document":{document_json},"seq":"{seq}"{previous}}}'
    )

"""The per-process subscription engine: committed changes in, in seq order, fanned out in memory.

One hub runs per realtime process (per event loop). Writers announce each committed change-log
row once per process: straight into the hub's inbox on the embedded default (in-memory layer),
through one Redis pub/sub channel per project in production (`announce.py`, `listener.py`), so a
change is one message per realtime process, never one per subscriber. The hub applies rows strictly in seq order; a
missing row (a lost message, a Redis restart, a row too big to carry) is read from the change
log, and a once-a-second poll of project positions catches up a hub that heard nothing. See
README.md beside this file.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from channels.layers import get_channel_layer
from django.conf import settings

from basalt.core.caller import Caller
from basalt.core.errors import BasaltError, InvalidApiKey
from basalt.core.ids import random_id
from basalt.documents import render
from basalt.documents.cache import Schema
from basalt.documents.changefeed import Change
from basalt.projects.models import Project
from basalt.realtime import announce, changes, lookups, wire
from basalt.realtime.connection import Connection
from basalt.realtime.dbthread import in_thread
from basalt.realtime.ends import ends_when_cancelled
from basalt.realtime.listener import ChangeListener
from basalt.realtime.subscriptions import (
    Subscription,
    event_document,
    event_for,
    event_kind,
    event_text,
    judge,
    prefetch_rows,
    previous_document,
)
from basalt.realtime.visibility import Viewer, caller_key, viewer_for

logger = logging.getLogger("basalt.realtime")

# A caller is re-checked (key revoked, session ended, user disabled, roles changed) at most this
# long before a payload goes out to it: revocation takes effect within this bound.
REVALIDATE_SECONDS = 0.5
# Idle subscribers (no change in their project) are re-checked this often, so that lost access
# becomes `leave` without waiting for the next write.
IDLE_REVALIDATE_SECONDS = 2.0
SCHEMA_REFRESH_SECONDS = 1.0
POLL_SECONDS = 1.0
REGROUP_SECONDS = 30.0

_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


def uses_layer() -> bool:
    return "InMemoryChannelLayer" not in settings.CHANNEL_LAYERS["default"]["BACKEND"]


def current_hub() -> Hub:
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for stale in [other for other in _hubs if other.is_closed()]:
            del _hubs[stale]
        hub = _hubs[loop] = Hub(loop)
        hub.start()
    return hub


def publish(change: Change) -> None:
    """Announce a committed row to every realtime process (called from `on_commit`, any thread)."""
    if uses_layer():
        announce.publisher.send(change)
        return
    for loop, hub in list(_hubs.items()):
        if loop.is_closed():
            continue
        try:
            loop.call_soon_threadsafe(hub.inbox.put_nowait, ("change", change))
        except RuntimeError:  # the loop closed meanwhile
            pass


@dataclass
class ProjectFeed:
    """What a hub knows of one project: its position in the change log and its subscriptions."""

    project_id: int
    last: int
    project: Project | None = None
    schemas: dict[str, Schema] = field(default_factory=dict)
    refreshed_at: float = 0.0
    subs: dict[str, dict[tuple[str, str], Subscription]] = field(default_factory=dict)
    viewers: dict[tuple, Viewer | BasaltError] = field(default_factory=dict)

    def viewer(self, caller: Caller, schema: Schema) -> Viewer:
        key = (schema.name, caller_key(caller))
        found = self.viewers.get(key)
        if found is None:
            try:
                found = viewer_for(caller, schema)
            except BasaltError as exc:
                found = exc
            self.viewers[key] = found
        if isinstance(found, BasaltError):
            raise found
        return found

    def connections(self) -> set[Connection]:
        return {sub.conn for subs in self.subs.values() for sub in subs.values()}


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.projects: dict[int, ProjectFeed] = {}
        self.connections: dict[str, Connection] = {}
        self.layer = get_channel_layer() if uses_layer() else None
        # Production: changes come over Redis pub/sub (listener.py), channel rooms over the layer.
        self.listener = ChangeListener(self) if self.layer is not None else None
        self.channel: str | None = None
        self.groups: set[str] = set()  # the channel-layer groups of this process's rooms
        self.tasks: set[asyncio.Task] = set()
        self.room_handler: Any = None  # rooms.Rooms, set by the rooms module

    def spawn(self, coro) -> asyncio.Task:
        """Run a hub task in a clean context: the first caller may be a request inside async_to_sync,
        whose thread executor (captured in context variables) is gone once that request ends."""
        task = self.loop.create_task(ends_when_cancelled(coro), context=contextvars.Context())
        self.tasks.add(task)  # a reference until done, so the task is not collected mid-flight
        task.add_done_callback(self.tasks.discard)
        return task

    def start(self) -> None:
        self.spawn(self._pump())
        self.spawn(self._poll())
        self.spawn(self._report())
        if self.layer is not None:
            self.spawn(self._listen())
            self.spawn(self.listener.run())

    # --- connections ------------------------------------------------------------------------------
    def add_connection(self, conn: Connection) -> None:
        self.connections[conn.id] = conn

    def drop_connection(self, conn: Connection) -> None:
        self.connections.pop(conn.id, None)
        for sub in list(conn.subs.values()):
            self.detach(sub)
        if self.room_handler is not None:
            self.room_handler.drop(conn)

    # --- subscriptions ----------------------------------------------------------------------------
    async def attach(self, sub: Subscription) -> int:
        """Register a subscription at a position; its snapshot or replay is queued before any live event."""
        done: asyncio.Future = self.loop.create_future()
        await self.inbox.put(("attach", (sub, done)))
        return await done

    def detach(self, sub: Subscription) -> None:
        sub.conn.subs.pop(sub.id, None)
        feed = self.projects.get(sub.project_id)
        if feed is None:
            return
        subs = feed.subs.get(sub.collection, {})
        subs.pop((sub.conn.id, sub.id), None)
        if not subs:
            feed.subs.pop(sub.collection, None)
        if not feed.subs:
            del self.projects[feed.project_id]
            if self.listener is not None:
                self.listener.unfollow(feed.project_id)

    # --- the pump: the only place rows are applied, so order holds --------------------------------
    async def _pump(self) -> None:
        while True:
            kind, item = await self.inbox.get()
            try:
                if kind == "change":
                    await self._on_change(item)
                elif kind == "catchup":
                    await self._catch_up(item)
                elif kind == "attach":
                    await self._attach(*item)
                elif kind == "revalidate" and item in self.projects:
                    await self._refresh(self.projects[item])
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("realtime: %s failed", kind)
                if kind == "attach" and not item[1].done():
                    item[1].set_exception(BasaltError("The subscription could not be set up.", code="unavailable"))

    async def _on_change(self, change: Change) -> None:
        feed = self.projects.get(change.project_id)
        if feed is None or change.seq <= feed.last:
            return
        if change.seq == feed.last + 1 and (change.before is not None or change.after is not None):
            await self._deliver(feed, [change])
        else:
            await self._catch_up(change.project_id, upto=change.seq)

    async def _catch_up(self, project_id: int, upto: int | None = None) -> None:
        while True:
            feed = self.projects.get(project_id)
            if feed is None:
                return
            rows = await in_thread(changes.read_range)(project_id, feed.last, upto)
            rows = [row for row in rows if row.seq > feed.last]
            if not rows:
                return
            await self._deliver(feed, rows)
            if len(rows) < changes.MAX_ROWS:
                return

    async def _deliver(self, feed: ProjectFeed, rows: list[Change], only: Subscription | None = None) -> None:
        await self._refresh(feed)
        found = await self._prefetch(feed, [row for row in rows if row.collection in feed.subs])
        for row in rows:
            if only is None and row.seq <= feed.last:
                continue
            self._fan_out(feed, row, found.get(row.seq))
            feed.last = max(feed.last, row.seq)

    async def _prefetch(self, feed: ProjectFeed, rows: list[Change]) -> dict[int, list[Any]]:
        """What caller-aware fields (files) need, read once per delivery, before the in-memory fan-out.

        Only for collections whose schema has such fields, so other changes cost no database trip."""
        wanted = [row for row in rows if (schema := feed.schemas.get(row.collection)) and render.concerned(schema)]
        if not wanted:
            return {}
        return await in_thread(prefetch_rows)(feed.project_id, feed.schemas, wanted)

    def _fan_out(self, feed: ProjectFeed, row: Change, found: list[Any] | None = None) -> None:
        subs = feed.subs.get(row.collection)
        schema = feed.schemas.get(row.collection)
        if not subs or schema is None:
            return
        with wire.shared_frames():  # each message text framed once, for every socket it goes to
            self._fan_out_to(feed, row, schema, subs, found)

    def _fan_out_to(
        self,
        feed: ProjectFeed,
        row: Change,
        schema: Schema,
        subs: dict[tuple[str, str], Subscription],
        found: list[Any] | None,
    ) -> None:
        # Per change: one ACL decision per principal set, one `where` evaluation per principal set
        # and query, one rendering and serialisation per visible shape, one message text per shape
        # and subscription id; per subscriber only the push onto its outbox.
        judged: dict[tuple, Any] = {}
        kinds: dict[tuple, str | None] = {}
        documents: dict[tuple, str] = {}
        texts: dict[tuple, str] = {}
        for sub in list(subs.values()):
            if sub.pos >= row.seq:
                continue
            sub.pos = row.seq
            if sub.shown_in_snapshot(row):
                continue
            conn = sub.conn
            key = conn.principal_key
            verdict = judged.get(key)
            if verdict is None:
                try:
                    verdict = judge(feed.viewer(conn.caller, schema), row)
                except BasaltError as exc:
                    verdict = exc
                judged[key] = verdict
            if isinstance(verdict, BasaltError):
                # The caller lost `find` (rules or roles changed): the subscription ends, said so.
                self.detach(sub)
                conn.push_error(verdict, sub.id)
                continue
            group = (key, sub.query_key)
            if group in kinds:
                kind = kinds[group]
            else:
                kind = kinds[group] = event_kind(sub, row, verdict)
            if kind is None:
                continue
            wants_previous = conn.wants_previous
            text_key = (key, sub.fields, kind, sub.id, wants_previous)
            text = texts.get(text_key)
            if text is None:
                shape = (key, sub.fields, kind)
                document = documents.get(shape)
                if document is None:
                    document = documents[shape] = orjson.dumps(event_document(sub, row, verdict, kind, found)).decode()
                previous = None
                if wants_previous:
                    shape = (key, sub.fields, kind, "previous")
                    previous = documents.get(shape)
                    if previous is None:
                        before = previous_document(sub, row, verdict, kind)
                        previous = documents[shape] = orjson.dumps(before).decode() if before is not None else ""
                text = texts[text_key] = event_text(sub.id, kind, document, row.seq, previous or None)
            conn.push_text(text)

    async def _refresh(self, feed: ProjectFeed) -> None:
        """Before a payload leaves: current schema and rules, and every caller re-checked recently."""
        now = time.monotonic()
        stale = [c for c in feed.connections() if now - c.validated_at > REVALIDATE_SECONDS and not c.closed]
        if now - feed.refreshed_at <= SCHEMA_REFRESH_SECONDS and not stale:
            return
        reload = now - feed.refreshed_at > SCHEMA_REFRESH_SECONDS
        project, schemas, verdicts = await in_thread(lookups.refresh)(
            feed.project_id, reload, [(c.key_raw, c.token) for c in stale]
        )
        if reload:
            if project is None:  # the project is gone: nothing more to say to anyone
                for conn in feed.connections():
                    conn.push_error(InvalidApiKey())
                    conn.shut(4001)
                return
            if feed.project is None or project.schema_version != feed.project.schema_version or not feed.schemas:
                feed.viewers.clear()
            feed.project, feed.schemas, feed.refreshed_at = project, schemas, time.monotonic()
        for conn in stale:
            before = conn.caller
            self._apply_verdict(feed, conn, verdicts[(conn.key_raw, conn.token)])
            if not conn.closed and conn.principal_key != caller_key(before):
                await self._withdraw(feed, conn, before)

    def _apply_verdict(self, feed: ProjectFeed, conn: Connection, verdict: Caller | BasaltError) -> None:
        conn.validated_at = time.monotonic()
        if isinstance(verdict, InvalidApiKey):
            conn.push_error(verdict)
            conn.shut(4001)
        elif isinstance(verdict, BasaltError):
            # The session ended, the user is disabled or deleted, or the token expired: from now on
            # the connection is only its key, and it is told so (it may send a fresh `auth`).
            conn.token = None
            conn.caller = conn.key_caller
            conn.push_error(verdict)
        elif caller_key(verdict) != conn.principal_key:
            conn.caller = verdict

    async def _withdraw(self, feed: ProjectFeed, conn: Connection, before: Caller) -> None:
        """The connection's principals changed: `leave` for each document it could see and no longer can.

        Each subscription's query is re-run under the old and the new principals (bounded like a
        snapshot; past it the subscription ends with `resync_required`), rather than remembering
        every id ever sent per subscription: memory stays per subscription, not per document."""
        for sub in list(conn.subs.values()):
            try:
                lost = await in_thread(lookups.lost_ids)(before, conn.caller, sub)
            except BasaltError as exc:
                # `find` lost, a `where` on a now-hidden field, too many documents: the subscription
                # ends and says why (the client refetches), as when a change meets a lost `find`.
                self.detach(sub)
                conn.push_error(exc, sub.id)
                continue
            for document_id in lost:
                conn.push_text(event_text(sub.id, "leave", orjson.dumps({"id": document_id}).decode(), feed.last))

    # --- attach -----------------------------------------------------------------------------------
    async def _attach(self, sub: Subscription, done: asyncio.Future) -> None:
        conn = sub.conn
        if conn.closed:
            done.set_exception(BasaltError("The connection is closed."))
            return
        feed = self.projects.get(sub.project_id)
        messages: list[dict[str, Any]] = []
        try:
            if feed is not None and sub.since is None and not sub.snapshot:
                start = feed.last
            else:
                start, messages = await in_thread(lookups.prepare)(conn.caller, sub)
        except BasaltError as exc:
            done.set_exception(exc)
            return
        if feed is None:
            feed = self.projects[sub.project_id] = ProjectFeed(sub.project_id, last=start)
            self._follow(sub.project_id)
        elif feed.last < start:
            # This hub is behind the snapshot: bring the existing subscribers up to it first.
            await self._catch_up(feed.project_id, upto=start)
        elif feed.last > start:
            rows = await in_thread(changes.read_range)(feed.project_id, start, feed.last)
            await self._refresh(feed)
            found = await self._prefetch(feed, [row for row in rows if row.collection == sub.collection])
            for row in rows:
                schema = feed.schemas.get(row.collection)
                if row.collection == sub.collection and schema is not None and not sub.shown_in_snapshot(row):
                    event = event_for(sub, row, judge(feed.viewer(conn.caller, schema), row), found.get(row.seq))
                    if event is not None:
                        messages.append(event)
            start = feed.last
        if conn.closed:
            done.set_exception(BasaltError("The connection is closed."))
            return
        sub.pos = sub.extra["start"] = start
        if self.projects.get(sub.project_id) is not feed:  # emptied and dropped while we awaited
            self.projects[sub.project_id] = feed
            self._follow(sub.project_id)
        feed.subs.setdefault(sub.collection, {})[(conn.id, sub.id)] = sub
        conn.subs[sub.id] = sub
        conn.push({"op": "subscribed", "id": sub.id, "seq": str(start)})
        for message in messages:
            conn.push(message, bulk=True)
        done.set_result(start)

    # --- between processes ------------------------------------------------------------------------
    def _follow(self, project_id: int) -> None:
        if self.listener is not None:
            self.listener.follow(project_id)

    def _group(self, group: str) -> None:
        if group in self.groups:
            return
        self.groups.add(group)
        if self.layer is not None and self.channel is not None:
            self.spawn(self._safe(self.layer.group_add(group, self.channel)))

    def _ungroup(self, group: str) -> None:
        if group not in self.groups:
            return
        self.groups.discard(group)
        if self.layer is not None and self.channel is not None:
            self.spawn(self._safe(self.layer.group_discard(group, self.channel)))

    async def _safe(self, work) -> None:
        try:
            await work
        except Exception:
            logger.warning("realtime: channel layer unavailable; the change-log poll covers the gap")

    async def _listen(self) -> None:
        """Receive channel-room traffic for this process from the channel layer."""
        regrouped = 0.0
        while True:
            try:
                if self.channel is None:
                    self.channel = await self.layer.new_channel("rt.hub.")
                if time.monotonic() - regrouped > REGROUP_SECONDS:
                    # Group membership expires, and a restarted Redis has forgotten it.
                    for group in list(self.groups):
                        await self.layer.group_add(group, self.channel)
                    regrouped = time.monotonic()
                message = await asyncio.wait_for(self.layer.receive(self.channel), REGROUP_SECONDS)
            except TimeoutError:
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("realtime: channel layer receive failed; retrying")
                regrouped = 0.0
                await asyncio.sleep(0.5)
                continue
            if message.get("type") == "rt.room" and self.room_handler is not None:
                self.room_handler.receive(message)

    async def _poll(self) -> None:
        """Catch up projects whose announcements were lost (Redis restart, full queue)."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if not self.projects:
                continue
            try:
                seqs = await in_thread(changes.positions)(list(self.projects))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("realtime: change-log poll failed")
                continue
            now = time.monotonic()
            for project_id, feed in list(self.projects.items()):
                if seqs.get(project_id, 0) > feed.last:
                    self.inbox.put_nowait(("catchup", project_id))
                elif any(now - c.validated_at > IDLE_REVALIDATE_SECONDS for c in feed.connections()):
                    # No change to carry the re-check: a role removed from an idle subscriber must
                    # still turn into `leave` for what it can no longer see.
                    self.inbox.put_nowait(("revalidate", project_id))

    def stats(self) -> dict[int, dict[str, Any]]:
        """This process's share per project: connections, subscriptions per collection, channel members."""
        out: dict[int, dict[str, Any]] = {}
        for conn in list(self.connections.values()):
            entry = out.setdefault(
                conn.project_id,
                {"connections": 0, "transports": {}, "collections": {}, "channels": {}},
            )
            entry["connections"] += 1
            entry["transports"][conn.transport] = entry["transports"].get(conn.transport, 0) + 1
            for sub in conn.subs.values():
                entry["collections"][sub.collection] = entry["collections"].get(sub.collection, 0) + 1
            for channel, presence in conn.rooms.items():
                entry["channels"].setdefault(channel, []).append({"id": conn.id, "presence": presence})
        return out

    async def _report(self) -> None:
        from asgiref.sync import sync_to_async

        from basalt.realtime import overview

        hub_id = random_id(12)
        while True:
            await asyncio.sleep(overview.REPORT_SECONDS if self.connections else overview.REPORT_SECONDS * 2)
            try:
                await sync_to_async(overview.report, thread_sensitive=False)(hub_id, self.stats())
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("realtime: could not report connection statistics")

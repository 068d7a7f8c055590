"""Channels: join, leave, broadcast and presence, with who-may-do-what from the project's settings.

A channel's traffic is one channel-layer group per (project, channel) between processes (one
message per process that has members), delivered in memory to the local members. Presence is the
union of each process's local members; a process re-announces its members every few seconds and
forgets a remote member it has not heard of for three periods, so a dead process's members leave.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from types import SimpleNamespace
from typing import Any

import orjson

from basalt.core.errors import BasaltError, InvalidOperation, PayloadTooLarge, PermissionDenied
from basalt.documents import access
from basalt.realtime.announce import group_prefix
from basalt.realtime.config import CHANNEL_NAME
from basalt.realtime.connection import Connection
from basalt.realtime.hub import Hub, current_hub

HEARTBEAT_SECONDS = 5.0
EVENT_NAME_MAX = 64


def room_group(project_id: int, channel: str) -> str:
    return f"{group_prefix()}.r{project_id}.{hashlib.sha256(channel.encode()).hexdigest()[:24]}"


def may(conn: Connection, channel: str, op: str) -> bool:
    """The channel pattern's principals, judged by the same rule as collection permissions."""
    rules = SimpleNamespace(permissions={op: conn.settings.channel_rule(channel, op)})
    return access.can_collection_op(conn.caller, rules, op)


class Rooms:
    """This process's channel members, and what it has heard of other processes' members."""

    def __init__(self, hub: Hub):
        self.hub = hub
        self.local: dict[tuple[int, str], dict[str, Connection]] = {}
        # (project, channel) → member id → (presence, last heard)
        self.remote: dict[tuple[int, str], dict[str, tuple[Any, float]]] = {}
        hub.room_handler = self
        self.origin = id(self)
        hub.spawn(self._heartbeat())

    def members(self, room: tuple[int, str]) -> dict[str, Any]:
        out = {conn.id: conn.rooms.get(room[1]) for conn in self.local.get(room, {}).values()}
        for member, (presence, _heard) in self.remote.get(room, {}).items():
            out.setdefault(member, presence)
        return out

    def _deliver(self, room: tuple[int, str], message: dict[str, Any], skip: str | None = None) -> None:
        for conn in list(self.local.get(room, {}).values()):
            if conn.id != skip:
                conn.push(message)

    def _send(self, room: tuple[int, str], body: dict[str, Any]) -> None:
        """Deliver locally and, in production, to the other processes with members in the room."""
        if self.hub.layer is None:
            return
        message = {"type": "rt.room", "origin": self.origin, "p": room[0], "ch": room[1], **body}
        group = room_group(*room)
        self.hub.spawn(self.hub._safe(self.hub.layer.group_send(group, message)))

    def receive(self, message: dict[str, Any]) -> None:
        if message.get("origin") == self.origin:
            return
        room = (message["p"], message["ch"])
        kind = message.get("kind")
        now = time.monotonic()
        known = self.remote.setdefault(room, {})
        if kind == "broadcast":
            self._deliver(room, message["out"])
        elif kind == "join":
            fresh = [m for m in message["members"] if m["id"] not in known]
            for member in message["members"]:
                known[member["id"]] = (member["presence"], now)
            if fresh:
                self._deliver(room, _presence(room[1], fresh, []))
            if message.get("hello"):
                self._announce(room)
        elif kind == "leave":
            gone = [{"id": m, "presence": known.pop(m)[0]} for m in message["members"] if m in known]
            if gone:
                self._deliver(room, _presence(room[1], [], gone))

    def _announce(self, room: tuple[int, str], hello: bool = False) -> None:
        members = [{"id": c.id, "presence": c.rooms.get(room[1])} for c in self.local.get(room, {}).values()]
        if members:
            self._send(room, {"kind": "join", "members": members, "hello": hello})

    def join(self, conn: Connection, channel: str, presence: Any) -> None:
        room = (conn.project_id, channel)
        members = self.local.setdefault(room, {})
        first = not members
        members[conn.id] = conn
        conn.rooms[channel] = presence
        if first:
            self.hub._group(room_group(*room))
        conn.push({"op": "presence", "channel": channel, "joins": _listing(self.members(room)), "leaves": []})
        joined = [{"id": conn.id, "presence": presence}]
        self._deliver(room, _presence(channel, joined, []), skip=conn.id)
        self._send(room, {"kind": "join", "members": joined, "hello": first})

    def leave(self, conn: Connection, channel: str) -> None:
        room = (conn.project_id, channel)
        presence = conn.rooms.pop(channel, None)
        members = self.local.get(room, {})
        if members.pop(conn.id, None) is None:
            return
        if not members:
            del self.local[room]
            self.hub._ungroup(room_group(*room))
        self._deliver(room, _presence(channel, [], [{"id": conn.id, "presence": presence}]))
        self._send(room, {"kind": "leave", "members": [conn.id]})

    def drop(self, conn: Connection) -> None:
        for channel in list(conn.rooms):
            self.leave(conn, channel)

    def broadcast(self, conn: Connection, channel: str, event: str, payload: Any) -> None:
        room = (conn.project_id, channel)
        out = {"op": "broadcast", "channel": channel, "event": event, "payload": payload}
        self._deliver(room, out, skip=conn.id)  # the sender already knows what it said
        self._send(room, {"kind": "broadcast", "out": out})

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            for room in list(self.local):
                self._announce(room)
            cutoff = time.monotonic() - 3 * HEARTBEAT_SECONDS
            for room, known in list(self.remote.items()):
                gone = [{"id": m, "presence": p} for m, (p, heard) in known.items() if heard < cutoff]
                for member in gone:
                    known.pop(member["id"], None)
                if gone:
                    self._deliver(room, _presence(room[1], [], gone))


def _presence(channel: str, joins: list[dict[str, Any]], leaves: list[dict[str, Any]]) -> dict[str, Any]:
    return {"op": "presence", "channel": channel, "joins": joins, "leaves": leaves}


def _listing(members: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": member, "presence": presence} for member, presence in members.items()]


def rooms() -> Rooms:
    hub = current_hub()
    return hub.room_handler if hub.room_handler is not None else Rooms(hub)


def _channel(message: dict[str, Any]) -> str:
    channel = message.get("channel")
    if not isinstance(channel, str) or not CHANNEL_NAME.match(channel):
        raise InvalidOperation("`channel` must be 1-128 letters, digits or _ : . -.", details={"field": "channel"})
    return channel


async def join(conn: Connection, message: dict[str, Any]) -> None:
    channel = _channel(message)
    if not may(conn, channel, "join"):
        raise PermissionDenied(f"This caller may not join {channel!r}.")
    presence = message.get("presence")
    if presence is not None and not isinstance(presence, dict):
        raise InvalidOperation("`presence` must be a JSON object.")
    if presence is not None and len(orjson.dumps(presence)) > conn.settings.max_presence_bytes:
        raise PayloadTooLarge(f"Presence state is limited to {conn.settings.max_presence_bytes} bytes.")
    handler = rooms()
    if channel in conn.rooms:
        handler.leave(conn, channel)
    handler.join(conn, channel, presence)


async def leave(conn: Connection, message: dict[str, Any]) -> None:
    rooms().leave(conn, _channel(message))


async def broadcast(conn: Connection, message: dict[str, Any]) -> None:
    channel = _channel(message)
    if channel not in conn.rooms:
        raise InvalidOperation(f"Join {channel!r} before broadcasting to it.")
    if not may(conn, channel, "broadcast"):
        raise PermissionDenied(f"This caller may not broadcast to {channel!r}.")
    event = message.get("event")
    if not isinstance(event, str) or not 1 <= len(event) <= EVENT_NAME_MAX:
        raise InvalidOperation(f"`event` must be a name of 1-{EVENT_NAME_MAX} characters.")
    if not conn.take_broadcast():
        raise BasaltError(f"At most {conn.settings.broadcasts_per_second} broadcasts per second.", code="rate_limited")
    rooms().broadcast(conn, channel, event, message.get("payload"))

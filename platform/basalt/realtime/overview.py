"""What the realtime processes hold for a project (connections, subscriptions, channels), for the console.

Each hub reports its share to the cache every few seconds (Redis in production, so every process's
share is visible from the web process; per process on the embedded default, which is one process).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

REPORT_SECONDS = 5.0
TTL_SECONDS = 15


def _hubs_key(project_id: int) -> str:
    return f"realtime:hubs:{project_id}"


def _stats_key(project_id: int, hub_id: str) -> str:
    return f"realtime:stats:{project_id}:{hub_id}"


def report(hub_id: str, per_project: dict[int, dict[str, Any]]) -> None:
    """Store this hub's share for each project it serves (called from a thread, never the loop)."""
    now = time.time()
    for project_id, stats in per_project.items():
        cache.set(_stats_key(project_id, hub_id), stats, TTL_SECONDS)
        hubs = {h: seen for h, seen in (cache.get(_hubs_key(project_id)) or {}).items() if seen > now - TTL_SECONDS}
        hubs[hub_id] = now
        cache.set(_hubs_key(project_id), hubs, TTL_SECONDS * 4)


def project_overview(project_id: int) -> dict[str, Any]:
    """Every live hub's share merged: totals, subscriptions per collection, channels with presence."""
    connections, transports = 0, {"websocket": 0, "sse": 0}
    collections: dict[str, int] = {}
    channels: dict[str, list[Any]] = {}
    processes = 0
    for hub_id in cache.get(_hubs_key(project_id)) or {}:
        stats = cache.get(_stats_key(project_id, hub_id))
        if not stats:
            continue
        processes += 1
        connections += stats["connections"]
        for name, count in stats["transports"].items():
            transports[name] = transports.get(name, 0) + count
        for name, count in stats["collections"].items():
            collections[name] = collections.get(name, 0) + count
        for name, members in stats["channels"].items():
            channels.setdefault(name, []).extend(members)
    return {
        "processes": processes,
        "connections": connections,
        "transports": transports,
        "collections": sorted(collections.items()),
        "channels": sorted(channels.items()),
    }

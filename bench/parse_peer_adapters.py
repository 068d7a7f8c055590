"""Adapters for the shared anchor workload (../shared/anchors/parse/workload.py), loaded with
`--adapter-module` by bench/parse_peer.py; they run in the anchor's driver venv (aiohttp, no Django).

- `basalt_parse`: Parse Server's own adapter (the Parse REST API and the LiveQuery protocol, the
  very code that drives Parse Server) pointed at Basalt's `/parse` face, with a fresh console
  project whose ref, publishable key and secret key are the application id, REST key and master key.
- `basalt_ws`: the anchor's native `/api/v1` adapter, with its WebSocket sent to the realtime
  server (daphne) when that listens on a port of its own (`ws_url=`), as Caddy routes it in production.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from basalt_adapter import BasaltAdapter
from workload import Auth, ParseAdapter


class _KeepAliveRetry:
    """One retry when the server closed an idle keep-alive connection just as the client reused it
    (Node's 5 s keepAliveTimeout against aiohttp's pool: seen after the live phase's quiet wait).
    The request never reached the server, so a retry cannot double a write."""

    async def _req(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._req(*args, **kwargs)
        except aiohttp.ServerDisconnectedError:
            return await super()._req(*args, **kwargs)


class ParseServerPeer(_KeepAliveRetry, ParseAdapter):
    """Parse Server through the anchor's own adapter, plus the keep-alive retry both Parse targets get."""

    ADAPTER_NAME = "parse_peer"


@asynccontextmanager
async def _websocket_base(adapter: Any):
    """BasaltAdapter derives its WebSocket URL from base_url; live_subscribe and the probe run with
    no other request of this adapter in flight (the workload's live phase is sequential)."""
    ws_url = adapter.opts.get("ws_url")
    saved = adapter.base_url
    if ws_url:
        adapter.base_url = ws_url.replace("ws://", "http://").replace("wss://", "https://")
    try:
        yield
    finally:
        adapter.base_url = saved


class BasaltNativeWs(BasaltAdapter):
    ADAPTER_NAME = "basalt_ws"

    async def _probe_realtime(self) -> str:
        async with _websocket_base(self):
            return await super()._probe_realtime()

    async def live_subscribe(self, auth: Auth, score_lt: float, on_create: Callable[[dict, float], None]) -> Any:
        async with _websocket_base(self):
            return await super().live_subscribe(auth, score_lt, on_create)


class BasaltParseFace(_KeepAliveRetry, ParseAdapter, BasaltAdapter):
    """MRO: every workload operation is ParseAdapter's; only start() (a fresh project) is Basalt's."""

    ADAPTER_NAME = "basalt_parse"

    def __init__(self, base_url: str, **opts: str):
        ws = opts.pop("ws_url", "")
        super().__init__(base_url.rstrip("/") + "/parse", **opts)
        self.root_url = base_url.rstrip("/")
        self.ws_url = (ws.rstrip("/") + "/parse") if ws else self.ws_url

    async def start(self) -> None:
        # BasaltAdapter.start talks to /api/v1/manage on the server root, not under /parse.
        parse_base, self.base_url = self.base_url, self.root_url
        try:
            await BasaltAdapter.start(self)
        finally:
            self.base_url = parse_base
        self.app_id, self.rest_key, self.master_key = self.ref, self.pk, self.sk
        self.opts["js_key"] = self.pk

    async def describe(self) -> dict:
        d = await ParseAdapter.describe(self)
        d["server_version"] = "basalt /parse face"
        return d

    async def reset(self) -> None:
        pass  # a fresh project per run

    async def ensure_schema(self) -> None:
        # The same indexes as the native target declares, so the two faces differ only by the face.
        body = {
            "className": self.cls,
            "fields": {
                "title": {"type": "String"},
                "score": {"type": "Number"},
                "tags": {"type": "Array"},
                "author": {"type": "Pointer", "targetClass": "_User"},
            },
            "classLevelPermissions": {
                "get": {"*": True},
                "find": {"*": True},
                "count": {"*": True},
                "create": {"requiresAuthentication": True},
                "update": {"requiresAuthentication": True},
                "delete": {"requiresAuthentication": True},
            },
            "indexes": {"score_-1": {"score": -1}, "tags_1": {"tags": 1}},
        }
        await self._req("POST", f"/schemas/{self.cls}", Auth("master"), body)
        # Index builds run in the background; their state is on the native schema API only.
        native = "/api/v1/schema/collections/" + self.cls[0].lower() + self.cls[1:]
        for _ in range(120):
            async with self.session.get(self.root_url + native, headers={"X-API-Key": self.sk}) as r:
                collection = await r.json()
            states = [str(i.get("status", "ready")) for i in collection.get("indexes", [])]
            if "failed" in states:
                raise RuntimeError(f"index build failed: {collection.get('indexes')}")
            if all(s in ("ready", "valid", "built") for s in states):
                return
            await asyncio.sleep(0.5)

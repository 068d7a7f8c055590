"""Probe the database, the channel layer and the task broker for readiness (API.md §10)."""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connections

logger = logging.getLogger("basalt.health")
PROBE_TIMEOUT_SECONDS = 2


def database_ok() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1
    except Exception:  # any driver error means "not ready"
        logger.warning("readiness: database unreachable", exc_info=True)
        connections["default"].close_if_unusable_or_obsolete()
        return False


def _redis_ok(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(
            url, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
        )
        return bool(client.ping())
    except Exception:
        logger.warning("readiness: redis unreachable at configured URL", exc_info=False)
        return False


def _in_memory_layer_ok() -> bool:
    """Round-trip one message on a private channel; never flush, which would drop live groups."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def round_trip() -> bool:
        channel = await layer.new_channel("readiness.")
        await layer.send(channel, {"type": "readiness.probe"})
        message = await asyncio.wait_for(layer.receive(channel), PROBE_TIMEOUT_SECONDS)
        return message.get("type") == "readiness.probe"

    try:
        return async_to_sync(round_trip)()
    except Exception:
        logger.warning("readiness: in-memory channel layer failed", exc_info=True)
        return False


def channel_layer_ok() -> bool:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    if backend.endswith("InMemoryChannelLayer"):
        return _in_memory_layer_ok()
    hosts = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"]
    return all(_redis_ok(host if isinstance(host, str) else host["address"]) for host in hosts)


def broker_ok() -> bool:
    url = settings.CELERY_BROKER_URL
    if url.startswith("memory://"):
        return True
    if url.startswith(("redis://", "rediss://")):
        return _redis_ok(url)
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=PROBE_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


CHECKS = {"database": database_ok, "channel_layer": channel_layer_ok, "broker": broker_ok}


def readiness() -> dict[str, bool]:
    return {name: check() for name, check in CHECKS.items()}


def warnings() -> list[str]:
    """Problems that do not stop this process serving requests, but that an operator must see.

    No consumer is not "not ready": the web service is healthy before its separate worker starts
    (docker-compose starts the worker once web is healthy), so it is reported, not failed.
    """
    from basalt.core.background import tasks_consumed

    if tasks_consumed():
        return []
    return [
        "No background worker has reported in: index builds, email and push stay pending "
        "until `celery -A basalt worker` consumes the broker (or run `manage.py serve` without --no-worker)."
    ]

"""Database work from the realtime event loop, run in a worker thread that never keeps a connection.

`channels.db.database_sync_to_async` only closes a connection past CONN_MAX_AGE when the *next* call
checks it; the hub's worker thread outlives every request (and, in tests, every event loop), so a
connection it held after its last call stayed checked out of the pool and kept the database busy
(PostgreSQL then refuses to drop it). Each call here hands its connection back before it returns.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from django.db import connections


def in_thread(work: Callable[..., Any]) -> Callable[..., Any]:
    """`work` as an awaitable run in the database thread, releasing the connection when it ends."""

    @functools.wraps(work)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return work(*args, **kwargs)
        finally:
            for connection in connections.all(initialized_only=True):
                if not connection.in_atomic_block:
                    connection.close()

    return database_sync_to_async(run)

"""Hub tasks that end when they are cancelled, even where a library loses the cancel.

Python 3.11's `asyncio.wait_for` returns the inner result instead of raising when a cancel arrives
just as the inner future completes (CPython gh-86296; 3.12 rewrote it on `asyncio.timeout`).
redis-py sends every command through it, so a hub task cancelled at that instant (asyncio.run's
teardown, a server's shutdown) carried on: the Redis listener went on to block in a read with no
end, and the loop's shutdown waited for it for ever.

So a hub task's work runs as a task of its own, under a supervisor that waits in a way any cancel
reaches, and that cancels the work again until it has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

RECANCEL_SECONDS = 0.05


async def ends_when_cancelled(work: Coroutine[Any, Any, Any]) -> Any:
    task = asyncio.get_running_loop().create_task(work)
    try:
        await asyncio.wait({task})
    except asyncio.CancelledError:
        while not task.done():
            task.cancel()
            # A second cancel of the supervisor must not leave the work running behind it.
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task}, timeout=RECANCEL_SECONDS)
        raise
    return task.result()

"""A hub task ends when its loop shuts down, even where a library loses the cancel.

The landing CI run of 2026-12-07 hung for 15 minutes in asyncio.run's teardown: the hub's Redis
listener had been cancelled inside redis-py's connect, at the instant Python 3.11's `wait_for`
returns its inner result instead of raising, and went on to block in a read with no end.
"""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from basalt.realtime.ends import ends_when_cancelled
from basalt.realtime.hub import Hub

SHUTDOWN_SECONDS = 10.0  # a bound for the test, not a speed claim: a working shutdown takes milliseconds


async def _loses_the_first_cancel(started: asyncio.Event) -> None:
    """What a library's await does when it swallows a cancel: carry on, and block again."""
    started.set()
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        pass
    await asyncio.sleep(3600)


async def _wait_for_whose_future_completes_as_it_is_cancelled(started: asyncio.Event) -> None:
    """The exact race of redis-py's connect on Python 3.11: the future `wait_for` guards completes in the
    same loop turn as the cancel, so 3.11's `wait_for` returns instead of raising."""
    loop = asyncio.get_running_loop()
    reply = loop.create_future()
    loop.call_soon(started.set)
    # Two loop turns later: the turn in which the main coroutine's end stops the loop, so the reply
    # lands just before asyncio.run's teardown cancels this task.
    loop.call_soon(loop.call_soon, reply.set_result, "PONG")
    await asyncio.wait_for(reply, timeout=30)
    await asyncio.sleep(3600)  # a read with no end, as the listener's get_message(timeout=None)


def _shuts_down(work, supervised: bool, through_the_hub: bool = False) -> bool:
    """Run `work` as a background task of a loop run by asyncio.run, end the main coroutine, and say
    whether asyncio.run returned (its teardown cancels the task and waits for it)."""

    async def main() -> None:
        started = asyncio.Event()
        coro = work(started)
        loop = asyncio.get_running_loop()
        if through_the_hub:
            Hub(loop).spawn(coro)
        else:
            loop.create_task(ends_when_cancelled(coro) if supervised else coro)
        await started.wait()

    runner = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    runner.start()
    runner.join(SHUTDOWN_SECONDS)
    return not runner.is_alive()


def test_a_task_that_loses_a_cancel_ends_at_shutdown_when_supervised():
    assert _shuts_down(_loses_the_first_cancel, supervised=True)


def test_every_hub_task_is_supervised():
    assert _shuts_down(_loses_the_first_cancel, supervised=True, through_the_hub=True)


def test_a_task_that_loses_a_cancel_hangs_the_shutdown_without_the_supervisor():
    """The reason the supervisor exists (the thread it leaves behind is a daemon, parked in a sleep)."""
    assert not _shuts_down(_loses_the_first_cancel, supervised=False)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12's wait_for raises the cancel")
def test_python_311s_wait_for_loses_a_cancel_and_the_supervised_task_still_ends():
    assert not _shuts_down(_wait_for_whose_future_completes_as_it_is_cancelled, supervised=False)
    assert _shuts_down(_wait_for_whose_future_completes_as_it_is_cancelled, supervised=True)


def test_the_work_s_result_and_error_come_through():
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def fails() -> None:
        await asyncio.sleep(0)
        raise LookupError("the work's own error")

    assert asyncio.run(ends_when_cancelled(answer())) == 42
    with pytest.raises(LookupError, match="the work's own error"):
        asyncio.run(ends_when_cancelled(fails()))


def test_cancelling_the_supervisor_cancels_the_work_and_raises():
    async def main() -> tuple[bool, bool]:
        started = asyncio.Event()
        finished_cleanly = False

        async def work() -> None:
            nonlocal finished_cleanly
            started.set()
            try:
                await asyncio.sleep(3600)
            finally:
                finished_cleanly = True

        supervisor = asyncio.get_running_loop().create_task(ends_when_cancelled(work()))
        await started.wait()
        supervisor.cancel()
        with pytest.raises(asyncio.CancelledError):
            await supervisor
        return supervisor.cancelled(), finished_cleanly

    assert asyncio.run(main()) == (True, True)

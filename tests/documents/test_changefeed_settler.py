"""The change log's settler thread (documents.changefeed._Settler) across a fork: a server worker
forked while the parent's settler held its lock must still settle on a thread of its own."""

from __future__ import annotations

import os
import signal
import threading

from basalt.documents import changefeed


def test_a_forked_worker_settles_on_its_own_thread_even_if_the_lock_was_held_at_the_fork(monkeypatch):
    settled: list[int] = []
    monkeypatch.setattr(changefeed, "settle", settled.append)
    settler = changefeed._Settler()
    settler.ask(1)
    assert settler.wait_idle(10) and settled == [1]

    holding, release = threading.Event(), threading.Event()

    def hold():  # another thread of the parent holds the settler's lock across the fork
        with settler._changed:
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: ask and wait, then leave without running pytest's teardown
        code = 3
        signal.alarm(10)  # a child stuck on the inherited lock dies instead of hanging the test
        try:
            settler.ask(2)
            code = 0 if settler.wait_idle(10) and settled == [1, 2] else 1
        finally:
            os._exit(code)
    release.set()
    holder.join(10)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert settled == [1]  # the child's pass was the child's

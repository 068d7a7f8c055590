"""Request ids are drawn from the OS's random source many at a time (core.edge): each id is still
32 random hex digits handed out once, in every thread and in a forked child."""

from __future__ import annotations

import os
import re
import threading

from basalt.core import edge

HEX_ID = re.compile(r"[0-9a-f]{32}")


def test_ids_are_32_hex_digits_and_never_repeat_across_draws():
    ids = [edge.new_request_id() for _ in range(edge._IDS_PER_DRAW * 3 + 7)]
    assert all(HEX_ID.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_threads_drawing_at_once_never_hand_out_the_same_id():
    per_thread, seen, lock = 2_000, [], threading.Lock()
    start = threading.Barrier(4)

    def draw():
        start.wait()
        mine = [edge.new_request_id() for _ in range(per_thread)]
        with lock:
            seen.extend(mine)

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 4 * per_thread
    assert len(set(seen)) == len(seen)


def test_a_forked_child_does_not_hand_out_the_ids_its_parent_drew():
    edge.new_request_id()  # the parent holds a drawn batch with ids still to hand out
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            os.write(write, " ".join(edge.new_request_id() for _ in range(20)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [edge.new_request_id() for _ in range(20)]
    assert len(child) == 20 and all(HEX_ID.fullmatch(i) for i in child)
    assert not set(child) & set(parent)

"""One fetch and decode of an image for the thumbnails rendered from it at the same moment.

Right after an upload, the project's sizes render in the background while the client asks for
its first thumbnail: each fetched the original from storage and decoded it (a 12-megapixel JPEG:
10-15 ms of S3 GET and ~60 ms of decoding each), on the same cores. Renders of the same object at
the same decode size that overlap now share one; nothing is kept once the last of them is done,
so memory holds no more than the renders in progress held before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any


class _Flight:
    __slots__ = ("future", "users")

    def __init__(self):
        self.future: Future = Future()
        self.users = 0


_flights: dict[tuple[str, int], _Flight] = {}
_lock = threading.Lock()


@contextmanager
def decoded(key: str, longest: int, load: Callable[[], Any]) -> Iterator[Any]:
    """`load()`'s result (a decoded image, which its users must not change), shared with the
    renders of the same storage key and decode size in progress; a failure of `load` is raised to
    each of them. The key names one file's bytes, which are never rewritten, and every caller has
    passed the file's access checks before it gets here."""
    name = (key, longest)
    with _lock:
        flight = _flights.get(name)
        leading = flight is None
        if flight is None:
            flight = _flights[name] = _Flight()
        flight.users += 1
    try:
        if leading:
            try:
                flight.future.set_result(load())
            except BaseException as exc:  # raised to every user below, this one first
                flight.future.set_exception(exc)
        yield flight.future.result()
    finally:
        with _lock:
            flight.users -= 1
            if flight.users == 0:
                del _flights[name]


def in_progress() -> int:
    """How many sources are held now (0 once no render runs)."""
    with _lock:
        return len(_flights)

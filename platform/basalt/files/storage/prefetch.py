"""Read ahead of a slow source on a thread, so fetching the next chunks overlaps sending this one.

A proxied S3 download alternated: fetch 1 MiB from the bucket, hand it to the server to send,
fetch the next. Each half waited for the other, and the download ran at 0.44x a direct boto3 GET
of the same object (256 MiB, SeaweedFS). With a thread fetching up to DEPTH chunks ahead, the two
run at once; memory stays bounded by DEPTH chunks per download.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator

DEPTH = 4
_END = object()
# How often a blocked producer looks whether the consumer has gone (a closed download).
_POLL_SECONDS = 0.2


def read_ahead(chunks: Iterator[bytes], close: Callable[[], None], depth: int = DEPTH) -> Iterator[bytes]:
    """The chunks of `chunks` in order, fetched on a thread up to `depth` ahead; `close` releases
    the source once the thread has stopped (after the last chunk, an error, or the consumer
    closing this generator early: a client that went away)."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for chunk in chunks:
                if not offer(chunk):
                    return
            offer(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    thread = threading.Thread(target=pump, name="files-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        close()

"""Kept thumbnails' bytes in process memory, least recently used first out, bounded in bytes.

On S3 a cached thumbnail cost a bucket GET more than a metadata read (2.2-2.9x its p95 on
SeaweedFS); a thumbnail is written once under a key naming its file and size and never rewritten
(file ids are never reused), so its bytes can be kept, with their content type. Every request
still resolves the caller and reads the file's row and ACL first, so a deleted file or a revoked
reader never reaches them; the Thumbnail row is not read again for a kept entry (thumbs.thumbnail):
an entry is kept only once its row exists, and that row goes only with its file. Per web process, at
most FILES_THUMBNAIL_MEMORY_BYTES (0 = off).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple

from django.conf import settings

DEFAULT_BYTES = 16 * 1024 * 1024


class Kept(NamedTuple):
    body: bytes
    content_type: str


_kept: OrderedDict[str, Kept] = OrderedDict()
_held = 0
_lock = threading.Lock()


def limit() -> int:
    return int(getattr(settings, "FILES_THUMBNAIL_MEMORY_BYTES", DEFAULT_BYTES))


def get(key: str) -> Kept | None:
    with _lock:
        held = _kept.get(key)
        if held is not None:
            _kept.move_to_end(key)
        return held


def put(key: str, body: bytes, content_type: str) -> None:
    global _held
    bound = limit()
    if bound <= 0 or len(body) > bound // 16:  # a few huge entries would push out many small ones
        return
    with _lock:
        if key in _kept:
            return
        _kept[key] = Kept(body, content_type)
        _held += len(body)
        while _held > bound:
            _old, dropped = _kept.popitem(last=False)
            _held -= len(dropped.body)


def clear() -> None:
    global _held
    with _lock:
        _kept.clear()
        _held = 0

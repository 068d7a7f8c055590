"""Fewer glibc malloc arenas, so large request buffers freed by one thread serve the next.

glibc gives threads their own malloc arenas (up to 8 per core) and, once a large block has been
freed, keeps blocks of that size in the arena instead of returning them to the system. A tus
upload to S3 buffers an 8 MiB part per PATCH; `serve` hands successive requests to different
threads, and each thread's arena kept its own copy: +145 MiB RSS for a 384 MiB upload in 8 MiB
PATCHes, +27 MiB with two arenas (SeaweedFS, load ~7). An operator's MALLOC_ARENA_MAX wins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_ARENA_MAX = -8  # glibc's mallopt parameter
ARENAS = 2


def limit_malloc_arenas(count: int = ARENAS) -> bool:
    """True when glibc took the limit (threads started afterwards share `count` arenas)."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, count))
    except (OSError, AttributeError):  # not glibc (musl has no mallopt arenas)
        return False

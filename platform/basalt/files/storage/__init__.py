"""The storage registry: one small interface, a local-folder and an S3 implementation.

The backend follows `settings.STORAGES["default"]` (FileSystemStorage → local, S3Storage → s3), so
the same environment variables that configure Django's storage configure files, and a test that
overrides STORAGES switches both.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

# Django storage class → our adapter. Adding a storage is one module and one line here.
REGISTRY: dict[str, str] = {
    "django.core.files.storage.FileSystemStorage": "basalt.files.storage.local.LocalStorage",
    "storages.backends.s3.S3Storage": "basalt.files.storage.s3.S3Storage",
    "storages.backends.s3boto3.S3Boto3Storage": "basalt.files.storage.s3.S3Storage",
}


class Writer(Protocol):
    """A streamed write: nothing is visible under the key until commit(); abort() leaves nothing."""

    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class Storage(Protocol):
    kind: str

    def writer(self, key: str) -> Writer: ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...

    def size(self, key: str) -> int | None: ...

    def delete_prefix(self, prefix: str) -> None: ...

    def presigned_get(self, key: str, expires_in: int, params: dict[str, str]) -> str | None: ...

    def presigned_put(self, key: str, expires_in: int, content_type: str, size: int) -> dict[str, Any] | None: ...


class Busy(Exception):
    """Another request is writing the same resumable upload."""


_cache: dict[str, Storage] = {}


def get_storage() -> Storage:
    config = settings.STORAGES["default"]
    cache_key = repr(sorted((k, repr(v)) for k, v in config.items()))
    storage = _cache.get(cache_key)
    if storage is None:
        adapter = REGISTRY.get(config["BACKEND"])
        if adapter is None:
            raise RuntimeError(f"no files adapter for storage backend {config['BACKEND']}")
        storage = import_string(adapter)(config.get("OPTIONS") or {})
        _cache.clear()
        _cache[cache_key] = storage
    return storage


# Bytes per read or write of a streamed body. Each piece costs a few Python calls (read, hash,
# write, and a thread hop per piece under `serve`); at 256 KiB that overhead was a measurable
# share of a 1 GiB transfer, at 1 MiB it is not, and one piece per request is still small.
CHUNK = 1024 * 1024

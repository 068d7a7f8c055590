"""The embedded default: files under a local folder, written to a temporary name and renamed."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from basalt.files.storage import CHUNK, Busy


class LocalWriter:
    def __init__(self, final: Path):
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.temp = final.parent / f".part-{uuid.uuid4().hex}"
        self.handle = open(self.temp, "xb")  # noqa: SIM115 (closed in commit/abort)

    def write(self, chunk: bytes) -> None:
        self.handle.write(chunk)

    def commit(self) -> None:
        self.handle.close()
        os.replace(self.temp, self.final)

    def abort(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


class LocalStorage:
    kind = "local"

    def __init__(self, options: dict[str, Any]):
        self.root = Path(options.get("location") or "files").resolve()

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are built by us from ids, but the guard costs nothing: never outside the root.
        if self.root not in path.parents:
            raise ValueError("storage key escapes the storage root")
        return path

    def writer(self, key: str) -> LocalWriter:
        return LocalWriter(self.path(key))

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self.path(key), "rb") as handle:
            handle.seek(start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                chunk = handle.read(CHUNK if left is None else min(CHUNK, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    @contextmanager
    def resumable(self, key: str) -> Iterator[BinaryIO]:
        """A resumable upload's file, opened to write at any offset and held by this request alone:
        an exclusive flock, so across the web processes of this host (the ones that share the
        folder); Busy when another request holds it. Closing the file releases the lock."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.fdopen(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise Busy(key) from None
            yield handle
        finally:
            handle.close()

    def promote(self, source_key: str, key: str) -> None:
        """Move a finished file under its final key: a rename, no copy."""
        final = self.path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path(source_key), final)

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def delete_prefix(self, prefix: str) -> None:
        path = self.path(prefix.rstrip("/"))
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def presigned_get(self, key: str, expires_in: int, params: dict[str, str]) -> str | None:
        return None

    def presigned_put(self, key: str, expires_in: int, content_type: str, size: int) -> dict[str, Any] | None:
        return None

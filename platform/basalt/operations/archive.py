"""The Basalt project archive: one gzip-compressed tar stream, written and read without seeking.

Layout (in this order; a reader refuses anything else):
  basalt-export.json        manifest: {"format": "basalt-project", "version": 2, source, created_at}
  settings.json             the project's settings, every credential-holding entry removed
  collections.json          collection definitions (fields, indexes, permissions, protected, ACL default)
  users/000001.jsonl …      end-users with their password hashes, linked identities and (version 2)
                            second factors: TOTP sealed as stored, recovery code hashes, passkeys
  roles/000001.jsonl …      roles (name, document id, ACL, child role names)
  members/000001.jsonl …    role memberships [role name, user id]
  files/000001.jsonl …      file rows, each followed by its bytes in blobs/<file id>
  documents/000001.jsonl …  document rows of every collection (users, roles, installations included)
  relations/000001.jsonl …  relation edges
  end.json                  counts of everything above: a stream cut anywhere is refused

The reader never extracts to disk: entries are read in memory-bounded pieces, names must match
the layout (no `..`, no absolute paths, no links or devices), and the unpacked size is bounded
absolutely and relative to the compressed bytes (decompression bombs), including tar headers.
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

import orjson
from django.conf import settings

from basalt.core.errors import BasaltError

FORMAT = "basalt-project"
# 2: users carry their second factors (user_factors). An install reading only version 1 would import
# those users without them, so it refuses a version 2 archive instead; version 1 archives still import.
VERSION = 2
MANIFEST = "basalt-export.json"
END = "end.json"
PARTS = ("users", "roles", "members", "files", "documents", "relations")
# Rows per JSONL entry, and bytes: an entry is built in memory before it is written (tar needs sizes).
CHUNK_ROWS = 10_000
CHUNK_BYTES = 8 * 1024 * 1024
READ_CHUNK = 1024 * 1024
MAX_JSON_ENTRY = 64 * 1024 * 1024
MAX_LINE = 32 * 1024 * 1024
# Tar headers (and end padding) may take at most this many bytes beyond the entries' declared data.
HEADER_ALLOWANCE = 1024 * 1024
_NAME = re.compile(
    r"\A(?:basalt-export\.json|settings\.json|collections\.json|end\.json"
    r"|(?:users|roles|members|files|documents|relations)/\d{6}\.jsonl|blobs/[a-z0-9]{1,32})\Z"
)


class ArchiveRefused(BasaltError):
    """The archive cannot be imported: damaged, cut short, from a newer Basalt, or hostile."""

    status = 400
    code = "invalid_archive"
    default_message = "The archive cannot be imported."


def refuse(reason: str, message: str, **details: Any) -> ArchiveRefused:
    return ArchiveRefused(message, details={"reason": reason, **details})


# --- writing ----------------------------------------------------------------------------------


class _Counting:
    """A write-only file object over a storage writer (or a file), counting bytes."""

    def __init__(self, sink: Any):
        self.sink, self.size = sink, 0

    def write(self, data: bytes) -> int:
        self.sink.write(bytes(data))
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


class _IterReader(io.RawIOBase):
    """read(n) over an iterator of byte chunks (storage reads)."""

    def __init__(self, chunks: Iterator[bytes]):
        self.chunks, self.rest = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.rest:
            try:
                self.rest = next(self.chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self.rest))
        buffer[:n] = self.rest[:n]
        self.rest = self.rest[n:]
        return n


def copy_bounded(source: BinaryIO, sink: Any, limit: int, too_large: Callable[[], Exception]) -> int:
    """Copy `source` into `sink` in bounded chunks; past `limit` bytes, raise `too_large()`."""
    copied = 0
    while True:
        chunk = source.read(READ_CHUNK)
        if not chunk:
            return copied
        copied += len(chunk)
        if copied > limit:
            raise too_large()
        sink.write(chunk)


def chunk_reader(chunks: Iterator[bytes]) -> BinaryIO:
    return io.BufferedReader(_IterReader(chunks), buffer_size=READ_CHUNK)


class ArchiveWriter:
    """Entries appended in layout order to a gzip'd tar stream; JSONL parts cut into bounded entries."""

    def __init__(self, sink: Any):
        self.out = _Counting(sink)
        # Level 1: exports are I/O-bound at level 6 and the JSON still shrinks several times.
        self.gz = gzip.GzipFile(fileobj=self.out, mode="wb", compresslevel=1, mtime=0)
        self.tar = tarfile.open(fileobj=self.gz, mode="w|", format=tarfile.PAX_FORMAT)
        self.counts: dict[str, int] = {}
        self._part: str | None = None
        self._numbers: dict[str, int] = {}
        self._buffer = io.BytesIO()
        self._rows = 0

    def _entry(self, name: str, size: int, data: BinaryIO) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(time.time()), 0o644
        self.tar.addfile(info, data)

    def add_json(self, name: str, value: Any) -> None:
        self.flush()
        data = orjson.dumps(value)
        self._entry(name, len(data), io.BytesIO(data))

    def add_row(self, part: str, row: Any) -> None:
        if self._part != part:
            self.flush()
            self._part = part
        self._buffer.write(orjson.dumps(row))
        self._buffer.write(b"\n")
        self._rows += 1
        self.counts[part] = self.counts.get(part, 0) + 1
        if self._rows >= CHUNK_ROWS or self._buffer.tell() >= CHUNK_BYTES:
            self.flush()

    def add_line(self, part: str, line: bytes) -> None:
        """A row already encoded as one JSON line ending in a newline (documents, built by the database)."""
        if self._part != part:
            self.flush()
            self._part = part
        self._buffer.write(line)
        self._rows += 1
        self.counts[part] = self.counts.get(part, 0) + 1
        if self._rows >= CHUNK_ROWS or self._buffer.tell() >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._part is None or not self._rows:
            return
        number = self._numbers.get(self._part, 0) + 1
        self._numbers[self._part] = number
        size = self._buffer.tell()
        self._buffer.seek(0)
        self._entry(f"{self._part}/{number:06d}.jsonl", size, self._buffer)
        self._buffer = io.BytesIO()
        self._rows = 0

    def add_blob(self, file_id: str, size: int, chunks: Iterator[bytes]) -> None:
        self.flush()
        self._entry(f"blobs/{file_id}", size, chunk_reader(chunks))
        self.counts["blobs"] = self.counts.get("blobs", 0) + 1

    def close(self) -> int:
        self.flush()
        self.add_json(END, {"counts": {part: self.counts.get(part, 0) for part in (*PARTS, "blobs")}})
        self.tar.close()
        self.gz.close()
        return self.out.size


# --- reading ----------------------------------------------------------------------------------


class _Budget(io.RawIOBase):
    """Decompressed bytes handed to tarfile, bounded: by the entries seen so far plus a small header
    allowance (a huge pax header cannot be read into memory), by a total, and by a ratio to the
    compressed bytes read (a small archive cannot unpack into gigabytes)."""

    def __init__(self, raw: BinaryIO):
        self.compressed = _CountingReader(raw)
        self.gz = gzip.GzipFile(fileobj=self.compressed, mode="rb")
        self.read_total = 0
        self.allowed = HEADER_ALLOWANCE
        self.limit = settings.IMPORT_MAX_UNPACKED_BYTES
        self.ratio = settings.IMPORT_MAX_RATIO

    def readable(self) -> bool:
        return True

    def allow(self, size: int) -> None:
        self.allowed += tarfile.BLOCKSIZE + -(-size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE

    def readinto(self, buffer) -> int:
        want = min(len(buffer), READ_CHUNK)
        try:
            data = self.gz.read(want)
        except (EOFError, zlib.error, gzip.BadGzipFile, OSError) as exc:
            raise refuse("corrupt", f"The archive is damaged or cut short ({exc}).") from None
        self.read_total += len(data)
        if self.read_total > self.allowed:
            raise refuse("bomb", "The archive holds more data than its entries declare (an oversized header).")
        if self.read_total > self.limit:
            raise refuse("bomb", f"The archive unpacks to more than {self.limit} bytes.", limit=self.limit)
        if self.read_total > 64 * 1024 * 1024 and self.read_total > self.ratio * max(self.compressed.size, 1):
            raise refuse("bomb", f"The archive unpacks to more than {self.ratio} times its size.", ratio=self.ratio)
        buffer[: len(data)] = data
        return len(data)


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: BinaryIO):
        self.raw, self.size = raw, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.raw.read(len(buffer))
        self.size += len(data)
        buffer[: len(data)] = data
        return len(data)


class Entry:
    def __init__(self, name: str, size: int, stream: BinaryIO):
        self.name, self.size, self.stream = name, size, stream

    @property
    def part(self) -> str:
        return self.name.split("/", 1)[0] if "/" in self.name else self.name

    def json(self) -> Any:
        if self.size > MAX_JSON_ENTRY:
            raise refuse("too_large", f"{self.name} is larger than {MAX_JSON_ENTRY} bytes.")
        return _parse(self.stream.read(self.size), self.name)

    def rows(self) -> Iterator[Any]:
        number = 0
        while True:
            line = self.stream.readline(MAX_LINE + 1)
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE:
                raise refuse("too_large", f"{self.name} line {number} is longer than {MAX_LINE} bytes.")
            if line.strip():
                yield _parse(line, f"{self.name} line {number}")

    def chunks(self) -> Iterator[bytes]:
        left = self.size
        while left:
            data = self.stream.read(min(READ_CHUNK, left))
            if not data:
                raise refuse("corrupt", f"{self.name} is cut short.")
            left -= len(data)
            yield data


def _parse(data: bytes, where: str) -> Any:
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise refuse("corrupt", f"{where} is not valid JSON.") from None


class ArchiveReader:
    """Entries of an archive in order, each checked before a byte of it is read."""

    def __init__(self, raw: BinaryIO):
        self.budget = _Budget(raw)
        try:
            # Read-ahead of one tar record only: the budget counts what is read, and a larger buffer
            # (it was 1 MiB) could run past the header allowance at an entry's end and refuse a valid archive.
            self.tar = tarfile.open(fileobj=io.BufferedReader(self.budget, tarfile.RECORDSIZE), mode="r|")
        except ArchiveRefused:
            raise
        except (tarfile.TarError, EOFError, OSError):
            raise refuse("corrupt", "Not a Basalt project archive (a gzip-compressed tar).") from None
        self.seen = 0

    def __iter__(self) -> Iterator[Entry]:
        try:
            for member in self.tar:
                yield self._check(member)
        except ArchiveRefused:
            raise
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise refuse("corrupt", f"The archive is damaged or cut short ({exc}).") from None

    def _check(self, member: tarfile.TarInfo) -> Entry:
        name = member.name
        if not _NAME.match(name):
            shown = name[:120]
            if name.startswith("/") or ".." in name.split("/") or "\\" in name:
                raise refuse("unsafe_path", f"The archive holds an entry outside its folder: {shown!r}.", entry=shown)
            raise refuse("unexpected_entry", f"The archive holds an unexpected entry: {shown!r}.", entry=shown)
        if member.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            raise refuse("unsafe_entry", f"{name} is not a regular file (links and devices are refused).", entry=name)
        self.budget.allow(member.size)
        if self.budget.allowed - HEADER_ALLOWANCE > self.budget.limit:
            raise refuse("bomb", f"The archive declares more than {self.budget.limit} bytes.", limit=self.budget.limit)
        self.seen += 1
        stream = self.tar.extractfile(member)
        assert stream is not None  # a regular file always has a stream
        return Entry(name, member.size, io.BufferedReader(_Exact(stream), READ_CHUNK))


class _Exact(io.RawIOBase):
    """An entry's stream; tarfile reports a cut-short entry as a short read, made an error here."""

    def __init__(self, stream):
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.stream.read(min(len(buffer), READ_CHUNK))
        except tarfile.ReadError as exc:
            raise refuse("corrupt", f"The archive is damaged or cut short ({exc}).") from None
        buffer[: len(data)] = data
        return len(data)


def check_manifest(manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise refuse("not_basalt", "Not a Basalt project archive (its manifest names another format).")
    version = manifest.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise refuse("corrupt", "The archive's format version is missing.")
    if version > VERSION:
        raise ArchiveRefused(
            f"The archive has format version {version}; this server reads up to version {VERSION}. "
            "Upgrade this Basalt install to import it.",
            code="unsupported_archive_version",
            details={"reason": "newer_version", "version": version, "supported": VERSION},
        )
    return manifest

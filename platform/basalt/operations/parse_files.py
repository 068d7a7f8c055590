"""The bytes of Parse `File` values, for the Parse import (parse_import.py).

A Parse export holds only a File's `name` and `url`; the bytes live with Parse Server's files
adapter. When the operator says where they are, the import brings them in:

- `folder`: a local folder holding the files by their Parse name, as Parse's FS files adapter
  stores them (`files/<appId>/<name>`: name that inner folder) or as a GridFS dump writes them
  (`mongofiles get_regex` / one file per name). Only plain files directly in the folder are read
  (no subfolders, no symbolic links), by the name alone.
- `base_url` with `allowed_hosts`: fetch `<base_url><name>` (the name URL-quoted), only when the
  base URL's host is one the operator allowed by name. The URLs inside the export are never
  fetched: they are imported data, and fetching them would let an export make this server call
  any address (SSRF). No redirects are followed; each answer is read up to the size limit.

Each file is checked as an upload is (files area: the project's `max_size`, `allowed_types`
after sniffing the bytes, `quota_bytes`), read once into one spooled temporary file, then written
into the converted archive as a file row and its blob: the importer stores it with the rest, all
or nothing. A file that is missing or refused is counted in the result (`files`), its first names
listed, and the field is left out of that object; it is never fatal.

Parse serves a file to anyone holding its URL, so an imported file reads like that: its ACL lets
everyone read it (the secret key writes it); who sees the reference is the object's ACL's business.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from basalt.core.errors import ValidationFailed
from basalt.files import sniff
from basalt.files.config import FilesConfig
from basalt.files.models import new_file_id
from basalt.files.names import clean_name
from basalt.operations import archive
from basalt.operations.archive import refuse

READ_CHUNK = 1024 * 1024
MAX_NAMES_LISTED = 20
# Parse Server names a file `<32 hex>_<the app's name>`; the app's name is what Basalt keeps.
_PARSE_PREFIX = re.compile(r"\A[0-9a-f]{32}_(?=.)")
PUBLIC_READ = {"*": {"read": True}}


@dataclass(frozen=True)
class FileSource:
    """Where the bytes of an export's files are: a folder, a base URL on allowed hosts, or both."""

    folder: str | None = None
    base_url: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    timeout: float = 30.0

    def check(self) -> None:
        """Refuse a source that cannot be used, before anything is read."""
        if self.folder is None and self.base_url is None:
            raise _bad("Name a folder of files or a base URL to fetch them from.")
        if self.folder is not None and not os.path.isdir(self.folder):
            raise _bad(f"{self.folder[:200]} is not a folder.")
        if self.base_url is not None:
            parts = urlsplit(self.base_url)
            host = (parts.hostname or "").lower()
            if parts.scheme not in ("http", "https") or not host:
                raise _bad("The files base URL must be an http(s) URL.")
            if host not in {h.lower() for h in self.allowed_hosts}:
                raise _bad(f"The files base URL's host {host[:100]} is not allowed: name it as an allowed host.")


def _bad(message: str) -> ValidationFailed:
    return ValidationFailed(message, details={"files": [message]})


def safe_name(name: Any) -> bool:
    """A file name that names one plain file inside the folder (or one URL path segment)."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= 255
        and name not in (".", "..")
        and not any(ch in name for ch in "/\\")
        and not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    )


@dataclass
class _Kept:
    file_id: str
    name: str
    offset: int
    size: int
    sha256: str
    content_type: str


class _Refused(Exception):
    def __init__(self, reason: str):
        self.reason = reason


@dataclass
class FileBytes:
    """The files of one import: each read once into `spool`, then written into the archive."""

    source: FileSource
    config: FilesConfig
    spool: Any = field(default_factory=lambda: tempfile.TemporaryFile(prefix="basalt-parse-files-"))
    kept: dict[str, _Kept] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)
    names_left_out: list[str] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    total: int = 0
    _client: Any = None

    def file_id(self, name: Any) -> str | None:
        """The archive id of the named file, read on first use; None when it is missing or refused."""
        key = name if isinstance(name, str) else repr(name)[:300]
        if key in self.kept:
            return self.kept[key].file_id
        if key in self.tried:
            return None  # missing or refused already (counted once)
        self.tried.add(key)
        if not safe_name(name):
            self._leave_out("unsafe_name", key[:120])
            return None
        try:
            kept = self._read(name)
        except _Refused as refused:
            self._leave_out(refused.reason, name)
            return None
        self.kept[name] = kept
        return kept.file_id

    def _leave_out(self, reason: str, name: str) -> None:
        self.left_out[reason] = self.left_out.get(reason, 0) + 1
        if len(self.names_left_out) < MAX_NAMES_LISTED:
            self.names_left_out.append(name)

    def _read(self, name: str) -> _Kept:
        chunks = self._from_folder(name) if self.source.folder is not None else None
        if chunks is None and self.source.base_url is not None:
            chunks = self._from_url(name)
        if chunks is None:
            raise _Refused("missing")
        offset = self.spool.seek(0, os.SEEK_END)
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > self.config.max_size:
                    raise _Refused("too_large")
                if self.config.quota_bytes is not None and self.total + size > self.config.quota_bytes:
                    raise _Refused("quota")
                if len(head) < sniff.HEAD:
                    head += chunk[: sniff.HEAD - len(head)]
                digest.update(chunk)
                self.spool.write(chunk)
        except _Refused:
            self.spool.truncate(offset)
            raise
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        content_type, refusal = sniff.decide(head, mimetypes.guess_type(name)[0])
        if refusal or not sniff.type_allowed(content_type, self.config.allowed_types):
            self.spool.truncate(offset)
            raise _Refused("type_not_allowed")
        self.total += size
        shown = clean_name(_PARSE_PREFIX.sub("", name))
        return _Kept(new_file_id(), shown, offset, size, digest.hexdigest(), content_type)

    def _from_folder(self, name: str) -> Iterator[bytes] | None:
        path = os.path.join(self.source.folder or "", name)
        try:
            # O_NOFOLLOW: a link in the folder must not read a file outside it; O_NONBLOCK: a FIFO
            # must not hang the import (anything but a regular file is then passed over).
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except OSError:
            return None
        handle = os.fdopen(fd, "rb")
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            handle.close()
            return None
        return _chunks(handle)

    def _from_url(self, name: str) -> Iterator[bytes] | None:
        import httpx

        if self._client is None:
            # No proxies from the environment, no redirects: only the allowed host is ever asked.
            self._client = httpx.Client(timeout=self.source.timeout, follow_redirects=False, trust_env=False)
        url = (self.source.base_url or "") + quote(name, safe="")
        try:
            answer = self._client.send(self._client.build_request("GET", url), stream=True)
        except httpx.HTTPError:
            raise _Refused("unreachable") from None
        if answer.status_code != 200:
            answer.close()
            return None
        declared = answer.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.config.max_size:
            answer.close()
            raise _Refused("too_large")
        return _answer_chunks(answer)

    def write(self, writer: archive.ArchiveWriter) -> None:
        """The kept files as archive file rows, each followed by its bytes."""
        created = datetime.now(UTC).isoformat()
        for kept in self.kept.values():
            writer.add_row(
                "files",
                {"id": kept.file_id, "name": kept.name, "content_type": kept.content_type, "size": kept.size,
                 "sha256": kept.sha256, "acl": PUBLIC_READ, "read_principals": ["*"], "write_principals": [],
                 "created_by": None, "created_at": created},
            )  # fmt: skip
            writer.add_blob(kept.file_id, kept.size, self._slice(kept))

    def _slice(self, kept: _Kept) -> Iterator[bytes]:
        self.spool.seek(kept.offset)
        left = kept.size
        while left:
            data = self.spool.read(min(READ_CHUNK, left))
            if not data:
                raise refuse("corrupt", "A fetched file was cut short in the temporary spool.")
            left -= len(data)
            yield data

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"imported": len(self.kept), "bytes": self.total}
        if self.left_out:
            out["left_out"] = dict(self.left_out)
            out["names_left_out"] = list(self.names_left_out)
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.spool.close()


def _chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(READ_CHUNK):
            yield chunk


def _answer_chunks(answer: Any) -> Iterator[bytes]:
    import httpx

    try:
        yield from answer.iter_bytes(READ_CHUNK)
    except httpx.HTTPError:
        raise _Refused("unreachable") from None
    finally:
        answer.close()

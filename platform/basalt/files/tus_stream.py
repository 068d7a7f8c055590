"""What every tus PATCH does to its bytes besides storing them: the room check, the client's
checksum, the upload's running sha256 and the sniffed type. Shared by both storages' writers
(`tus_parts` for S3, `tus_local` for the local folder), which only decide where the bytes go.

sha256 runs over the bytes as they pass, kept in this process between PATCHes (hash state cannot
be stored); when a PATCH lands on another process (or after a restart) the chain is broken and
the finished file is read once to compute it. The type is sniffed from the first 8 KiB as soon
as they have arrived, so a lying upload is refused at its first PATCH, not at the end.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from basalt.core.caller import Caller
from basalt.core.errors import ValidationFailed
from basalt.files import sniff
from basalt.files.config import files_config
from basalt.files.errors import BadContentType
from basalt.files.ingest import record_file
from basalt.files.models import TusUpload
from basalt.files.storage import CHUNK

# The running sha256 of uploads this process is receiving: upload id → (offset it covers, hash).
_HASHES: OrderedDict[str, tuple[int, Any]] = OrderedDict()
_HASHES_LOCK = threading.Lock()
MAX_HASHES = 1024


def _hash_at(upload_id: str, offset: int) -> Any | None:
    """A copy of the running hash if this process has every byte before `offset`, else None."""
    if offset == 0:
        return hashlib.sha256()
    with _HASHES_LOCK:
        found = _HASHES.get(upload_id)
        return found[1].copy() if found and found[0] == offset else None


def _keep_hash(upload_id: str, offset: int, running: Any) -> None:
    with _HASHES_LOCK:
        _HASHES[upload_id] = (offset, running)
        _HASHES.move_to_end(upload_id)
        while len(_HASHES) > MAX_HASHES:
            _HASHES.popitem(last=False)


def forget_hash(upload_id: str) -> None:
    with _HASHES_LOCK:
        _HASHES.pop(upload_id, None)


def body_chunks(body) -> Iterable[bytes]:
    """The request body in CHUNK pieces; a connection lost mid-body is the client's 400, not a 500."""
    while True:
        try:
            chunk = body.read(CHUNK)
        except OSError:
            raise ValidationFailed("The upload was interrupted; HEAD it and resume.") from None
        if not chunk:
            return
        yield chunk


class PatchStream:
    """One PATCH's bytes as they pass: `take` each chunk, then `settle` the upload's new state."""

    def __init__(self, upload: TusUpload, current: dict[str, Any], room: int, digest: Any):
        self.upload, self.current, self.room, self.digest = upload, current, room, digest
        self.running = _hash_at(upload.id, upload.offset)
        self.sniffing = current.get("content_type") is None
        self.head = base64.b64decode(current.get("head", "")) if self.sniffing else b""
        self.size = 0

    def take(self, chunk: bytes) -> None:
        self.check(chunk)
        self.absorb(chunk)

    def check(self, chunk: bytes) -> None:
        """The cheap part, in order on the request thread: room left, the head for sniffing."""
        self.size += len(chunk)
        if self.size > self.room:
            raise ValidationFailed(f"The body is longer than the {self.room} bytes the upload still needs.")
        if self.sniffing and len(self.head) < sniff.HEAD:
            self.head += chunk[: sniff.HEAD - len(self.head)]

    def absorb(self, chunk: bytes) -> None:
        """The hashing, which may run on a pipeline thread (files/pipeline.py)."""
        self.digest.update(chunk)
        if self.running is not None:
            self.running.update(chunk)

    @property
    def finished(self) -> bool:
        return self.upload.offset + self.size == self.upload.length

    def settle(self, new: dict[str, Any]) -> dict[str, Any]:
        """`new` with the sniffed head or type (BadContentType when the bytes contradict it) and the
        running hash, taken out by `remember` once the new offset is committed."""
        if self.sniffing:
            new["head"] = base64.b64encode(self.head).decode()
            if len(self.head) >= sniff.HEAD or self.finished:
                new["content_type"] = _decide(self.upload, self.head)
                new.pop("head", None)
        new["hashed"] = self.running is not None
        new["_hash"] = (self.upload.offset + self.size, self.running) if self.running is not None else None
        return new


def remember(upload: TusUpload, new: dict[str, Any]) -> dict[str, Any]:
    """The state to store (without the in-process hash), keeping that hash for the next PATCH."""
    running = new.pop("_hash", None)
    if running is not None:
        _keep_hash(upload.id, *running)
    else:
        forget_hash(upload.id)
    return new


def final_sha256(upload: TusUpload, current: dict[str, Any], read: Callable[[], Iterable[bytes]]) -> str:
    """The finished upload's sha256: the running hash when this process saw every byte, else
    the stored bytes read once (no second write)."""
    running = None
    with _HASHES_LOCK:
        kept = _HASHES.get(upload.id)
        if current.get("hashed") and kept and kept[0] == upload.length:
            running = kept[1]
    forget_hash(upload.id)
    if running is None:
        running = hashlib.sha256()
        for chunk in read():
            running.update(chunk)
    return running.hexdigest()


def record(caller: Caller, upload: TusUpload, current: dict[str, Any], sha256: str):
    """The finished upload's file row (quota re-checked), its bytes already at the file's key."""
    meta = upload.metadata
    return record_file(
        caller,
        files_config(caller.project),
        file_id=upload.id,
        name=meta.get("name") or "file",
        acl=meta.get("acl") or {},
        size=upload.length,
        sha256=sha256,
        content_type=current.get("content_type"),
    )


def _decide(upload: TusUpload, head: bytes) -> str:
    from basalt.projects.models import Project

    content_type, refusal = sniff.decide(head, upload.metadata.get("content_type") or None)
    if refusal:
        raise BadContentType(refusal)
    project = Project.objects.get(pk=upload.project_id)
    if not sniff.type_allowed(content_type, files_config(project).allowed_types):
        raise BadContentType(f"Files of type {content_type} are not accepted by this project.")
    return content_type

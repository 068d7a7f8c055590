"""tus on S3: each PATCH goes straight into the final object's multipart upload, so the bytes are
written to the bucket once (not as part objects concatenated at the end).

S3 parts other than the last must be at least 5 MiB, and tus PATCHes can be any size, so parts are
aligned to offsets: part n holds bytes [(n-1)·PART, n·PART). A PATCH's bytes are appended to the
upload's tail (the bytes past the last full part, < PART, kept as small segment objects, as
tusd's s3store keeps its incomplete part), every full PART is uploaded as its numbered part, and
the rest becomes a new segment. PATCHes of PART or more are written once; bytes of smaller ones at
most twice (segment, then part), never more (tiny PATCHes: segments are merged past
MAX_SEGMENTS). The last PATCH uploads the rest as the last part and completes the upload.

Numbering by offset makes a retry safe: a PATCH cut half way, or two racing at one offset, upload
the same part numbers again (S3 replaces a part given the same number), and only the request that
moves the recorded offset records its ETags. S3 checks each recorded ETag at completion, so a part
replaced with other bytes afterwards fails the upload instead of storing what was not checked.

sha256 runs over the bytes as they pass, kept in this process between PATCHes (hash state cannot
be stored); when a PATCH lands on another process (or after a restart) the chain is broken and
the finished object is read once to compute it. The type is sniffed from the first 8 KiB as soon
as they have arrived, so a lying upload is refused at its first PATCH, not at the end.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import uuid
from collections import OrderedDict
from typing import Any

from basalt.core.caller import Caller
from basalt.core.errors import Conflict, ValidationFailed
from basalt.files import sniff
from basalt.files.config import files_config
from basalt.files.errors import BadContentType
from basalt.files.ingest import record_file, storage_key
from basalt.files.models import TusUpload
from basalt.files.storage import CHUNK
from basalt.files.storage.s3 import PART

logger = logging.getLogger("basalt.files")
# The running sha256 of uploads this process is receiving: upload id → (offset it covers, hash).
_HASHES: OrderedDict[str, tuple[int, Any]] = OrderedDict()
_HASHES_LOCK = threading.Lock()
MAX_HASHES = 1024
# Past this many leftover segments (tiny PATCHes), they are merged into one (bounded by PART).
MAX_SEGMENTS = 32


def supported(storage: Any) -> bool:
    return hasattr(storage, "begin_parts")


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


def _forget_hash(upload_id: str) -> None:
    with _HASHES_LOCK:
        _HASHES.pop(upload_id, None)


def state(upload: TusUpload) -> dict[str, Any]:
    return upload.metadata.get("s3") or {}


def write(
    storage: Any, upload: TusUpload, prefix: str, body, room: int, digest: Any
) -> tuple[dict[str, Any], int, list[str]]:
    """Stream one PATCH body into parts; returns (the new S3 state, bytes received, objects to drop
    once the new state is committed). Nothing recorded changes here: a failure leaves the upload
    where it was (parts it uploaded are replaced by the retry)."""
    current = state(upload)
    key = storage_key(upload.project_id, upload.id)
    upload_id = current["upload_id"]  # begun with the upload (`begin`), so a refusal can abort it
    parts: list[list[Any]] = [list(part) for part in current.get("parts", [])]
    # The bytes past the last full part, as the segments earlier PATCHes left (each written once).
    segments: list[list[Any]] = [list(segment) for segment in current.get("tail") or []]
    pending = sum(size for _key, size in segments)
    drop: list[str] = []
    buffer = bytearray()

    def take_segments() -> None:
        nonlocal segments, pending
        front = bytearray()
        for segment_key, _size in segments:
            for chunk in storage.read(segment_key):
                front += chunk
        buffer[:0] = front
        drop.extend(segment_key for segment_key, _size in segments)
        segments, pending = [], 0

    running = _hash_at(upload.id, upload.offset)
    sniffing = current.get("content_type") is None
    head = base64.b64decode(current.get("head", "")) if sniffing else b""
    size = 0
    while chunk := body.read(CHUNK):
        size += len(chunk)
        if size > room:
            raise ValidationFailed(f"The body is longer than the {room} bytes the upload still needs.")
        digest.update(chunk)
        if running is not None:
            running.update(chunk)
        if sniffing and len(head) < sniff.HEAD:
            head += chunk[: sniff.HEAD - len(head)]
        buffer += chunk
        if pending + len(buffer) >= PART and segments:
            take_segments()
        while len(buffer) >= PART:
            number = len(parts) + 1
            parts.append([number, storage.put_part(key, upload_id, number, bytes(buffer[:PART])), PART])
            del buffer[:PART]
    new = {**current, "upload_id": upload_id, "parts": parts}
    finished = upload.offset + size == upload.length
    if sniffing:
        new["head"] = base64.b64encode(head).decode()
        if len(head) >= sniff.HEAD or finished:
            new["content_type"] = _decide(upload, head)
            new.pop("head", None)
    if finished or len(segments) >= MAX_SEGMENTS:
        take_segments()  # the last part, or (many tiny PATCHes) one segment instead of many
    if finished:
        if buffer or not parts:  # the last part may be small
            number = len(parts) + 1
            parts.append([number, storage.put_part(key, upload_id, number, bytes(buffer)), len(buffer)])
    elif buffer:
        segment_key = f"{prefix}tail-{upload.offset + size:020d}-{uuid.uuid4().hex[:8]}"
        writer = storage.writer(segment_key)
        writer.write(bytes(buffer))
        writer.commit()
        segments.append([segment_key, len(buffer)])
    new["tail"] = segments
    new["hashed"] = running is not None
    # Taken out by `remember` once the new offset is committed (never stored).
    new["_hash"] = (upload.offset + size, running) if running is not None else None
    return new, size, drop


def written_segment(new: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """Segments this PATCH wrote (to delete when its offset is not recorded after all)."""
    known = {segment_key for segment_key, _size in before.get("tail") or []}
    return [segment_key for segment_key, _size in new.get("tail") or [] if segment_key not in known]


def begin(storage: Any, project_id: int, upload_id: str) -> dict[str, Any]:
    """The S3 state of a new upload: its multipart upload, begun now and recorded with the row, so
    whatever happens to a PATCH later, termination and expiry know what to abort."""
    return {"upload_id": storage.begin_parts(storage_key(project_id, upload_id)), "parts": [], "tail": []}


def remember(upload: TusUpload, new: dict[str, Any]) -> dict[str, Any]:
    """The state to store (without the in-process hash), keeping that hash for the next PATCH."""
    running = new.pop("_hash", None)
    if running is not None:
        _keep_hash(upload.id, *running)
    else:
        _forget_hash(upload.id)
    return new


def _decide(upload: TusUpload, head: bytes) -> str:
    from basalt.projects.models import Project

    content_type, refusal = sniff.decide(head, upload.metadata.get("content_type") or None)
    if refusal:
        raise BadContentType(refusal)
    project = Project.objects.get(pk=upload.project_id)
    if not sniff.type_allowed(content_type, files_config(project).allowed_types):
        raise BadContentType(f"Files of type {content_type} are not accepted by this project.")
    return content_type


def finish(storage: Any, caller: Caller, upload: TusUpload):
    """Complete the multipart upload into the file's object, then its row (quota re-checked)."""
    current = state(upload)
    key = storage_key(upload.project_id, upload.id)
    try:
        storage.complete_parts(key, current["upload_id"], [(number, etag) for number, etag, _ in current["parts"]])
    except Exception:
        raise Conflict("A part of this upload was replaced by another request; upload it again.") from None
    running = None
    with _HASHES_LOCK:
        kept = _HASHES.get(upload.id)
        if current.get("hashed") and kept and kept[0] == upload.length:
            running = kept[1]
    _forget_hash(upload.id)
    if running is None:
        # The PATCHes were spread over processes: read the object once (no second write).
        running = hashlib.sha256()
        for chunk in storage.read(key):
            running.update(chunk)
    config = files_config(caller.project)
    meta = upload.metadata
    return record_file(
        caller,
        config,
        file_id=upload.id,
        name=meta.get("name") or "file",
        acl=meta.get("acl") or {},
        size=upload.length,
        sha256=running.hexdigest(),
        content_type=current.get("content_type"),
    )


def discard(storage: Any, upload: TusUpload) -> None:
    """Abort the multipart upload (its parts go with it); the tail goes with the upload's prefix."""
    _forget_hash(upload.id)
    upload_id = state(upload).get("upload_id")
    if upload_id:
        try:
            storage.abort_upload(storage_key(upload.project_id, upload.id), upload_id)
        except Exception:  # the stranded-uploads sweep aborts it later
            logger.warning("tus: could not abort the multipart upload of %s", upload.id)

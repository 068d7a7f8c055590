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

The checksum, running sha256 and sniffed type are `tus_stream`'s, shared with the local folder.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from basalt.core.caller import Caller
from basalt.core.errors import Conflict
from basalt.files import tus_stream
from basalt.files.ingest import storage_key
from basalt.files.models import TusUpload
from basalt.files.storage.s3 import PART

logger = logging.getLogger("basalt.files")
# Past this many leftover segments (tiny PATCHes), they are merged into one (bounded by PART).
MAX_SEGMENTS = 32


def supported(storage: Any) -> bool:
    return hasattr(storage, "begin_parts")


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

    stream = tus_stream.PatchStream(upload, current, room, digest)
    for chunk in tus_stream.body_chunks(body):
        stream.take(chunk)
        buffer += chunk
        if pending + len(buffer) >= PART and segments:
            take_segments()
        while len(buffer) >= PART:
            number = len(parts) + 1
            parts.append([number, storage.put_part(key, upload_id, number, bytes(buffer[:PART])), PART])
            del buffer[:PART]
    new = stream.settle({**current, "upload_id": upload_id, "parts": parts})
    finished, size = stream.finished, stream.size
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
    return new, size, drop


def written_segment(new: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """Segments this PATCH wrote (to delete when its offset is not recorded after all)."""
    known = {segment_key for segment_key, _size in before.get("tail") or []}
    return [segment_key for segment_key, _size in new.get("tail") or [] if segment_key not in known]


def begin(storage: Any, project_id: int, upload_id: str) -> dict[str, Any]:
    """The S3 state of a new upload: its multipart upload, begun now and recorded with the row, so
    whatever happens to a PATCH later, termination and expiry know what to abort."""
    return {"upload_id": storage.begin_parts(storage_key(project_id, upload_id)), "parts": [], "tail": []}


def finish(storage: Any, caller: Caller, upload: TusUpload):
    """Complete the multipart upload into the file's object, then its row (quota re-checked)."""
    current = state(upload)
    key = storage_key(upload.project_id, upload.id)
    try:
        storage.complete_parts(key, current["upload_id"], [(number, etag) for number, etag, _ in current["parts"]])
    except Exception:
        raise Conflict("A part of this upload was replaced by another request; upload it again.") from None
    sha256 = tus_stream.final_sha256(upload, current, lambda: storage.read(key))
    return tus_stream.record(caller, upload, current, sha256)


def discard(storage: Any, upload: TusUpload) -> None:
    """Abort the multipart upload (its parts go with it); the tail goes with the upload's prefix."""
    tus_stream.forget_hash(upload.id)
    upload_id = state(upload).get("upload_id")
    if upload_id:
        try:
            storage.abort_upload(storage_key(upload.project_id, upload.id), upload_id)
        except Exception:  # the stranded-uploads sweep aborts it later
            logger.warning("tus: could not abort the multipart upload of %s", upload.id)

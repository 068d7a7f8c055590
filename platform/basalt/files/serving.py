"""Serve a file's bytes safely: single Range (206), ETag/304, attachment + nosniff + sandbox CSP.

Only types a browser renders passively (raster images, media, plain text) are inline; HTML, SVG,
XML, JS and everything unknown are attachments (SECURITY.md T10), and every answer carries
`X-Content-Type-Options: nosniff` and a CSP `sandbox`, so even an inline file cannot script.

With FILES_ACCEL_REDIRECT on local storage, a streamed answer's bytes are sent by the front proxy
(docker/Caddyfile) instead of through Python: every decision (caller, ACL, 304, 416, which range,
headers) is made here first, and the answer names the file and the range the proxy must send.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from basalt.core.wsgi_bridge import EMBEDDED_SERVER, SENDFILE_ATTRIBUTE
from basalt.documents.render import etag_matches
from basalt.files import kept, sniff
from basalt.files.errors import RangeNotSatisfiable
from basalt.files.storage import get_storage

_RANGE = re.compile(r"\Abytes=(\d{0,19})-(\d{0,19})\Z")
# Bodies up to this size are answered whole (read at once), larger ones streamed.
WHOLE_BODY = 256 * 1024
# A front proxy that sends X-Accel-Redirect answers says so on each request it forwards (Rack::Sendfile's
# convention; docker/Caddyfile sets it, replacing any value a client sent). Without it the bytes come
# from here, so a request that reaches the web process some other way still gets the file.
SENDFILE_TYPE = "HTTP_X_SENDFILE_TYPE"
ACCEL_REDIRECT = "X-Accel-Redirect"
# The range decided here ("bytes=a-b"), or empty for the whole file: the proxy sends exactly that and
# makes no range or conditional decision of its own.
ACCEL_RANGE = "X-Basalt-Accel-Range"
CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox"


def disposition(name: str, content_type: str) -> str:
    kind = "inline" if sniff.inline(content_type) else "attachment"
    ascii_name = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


def safety_headers(response: HttpResponse, name: str, content_type: str) -> None:
    response["Content-Disposition"] = disposition(name, content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = CSP
    response["Cross-Origin-Resource-Policy"] = "cross-origin"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) for one satisfiable range; None to serve it all; 416 when unsatisfiable.

    Anything malformed or multi-range is ignored (RFC 9110 lets a server serve the whole)."""
    if not header or size == 0:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or (not match[1] and not match[2]):
        return None
    if not match[1]:  # suffix: the last N bytes
        length = int(match[2])
        if length == 0:
            raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - length), size - 1
    start = int(match[1])
    end = int(match[2]) if match[2] else None
    if end is not None and end < start:
        return None
    if start >= size:  # `bytes=<past the end>-` included (it was served whole)
        raise RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, size - 1 if end is None else min(end, size - 1)


def serve(
    request: HttpRequest,
    *,
    key: str,
    size: int,
    sha256: str,
    name: str,
    content_type: str,
    cache: str,
    keep: bool = False,
) -> HttpResponse:
    """`keep`: the object is never rewritten under its key (thumbnails): its bytes may be kept in
    memory (kept.py) once read."""
    tag = f'"{sha256}"'
    if request.META.get("HTTP_IF_NONE_MATCH") and etag_matches_hash(request.META["HTTP_IF_NONE_MATCH"], tag):
        response = HttpResponse(status=304)
        response["ETag"] = tag
        response["Cache-Control"] = cache
        return response
    storage = get_storage()
    if getattr(settings, "FILES_REDIRECT_DOWNLOADS", False) and request.GET.get("redirect") != "0":
        url = storage.presigned_get(
            key,
            300,
            {"ResponseContentType": content_type, "ResponseContentDisposition": disposition(name, content_type)},
        )
        if url:
            response = HttpResponse(status=302)
            response["Location"] = url
            response["Cache-Control"] = "private, no-store"
            return response
    if_range = request.META.get("HTTP_IF_RANGE")
    wanted = None if if_range and if_range.strip() != tag else parse_range(request.META.get("HTTP_RANGE"), size)
    if wanted is None and size <= WHOLE_BODY:
        # Thumbnails, avatars, icons: one read and one plain response. Streaming machinery per
        # chunk (an iterator the server drives, a thread hop per piece under `serve`) made a
        # cached thumbnail cost 1.6-3x a metadata GET.
        held = kept.get(key) if keep else None
        if held is not None:
            body = held.body
        else:
            body = b"".join(storage.read(key)) if size else b""
            if keep:
                kept.put(key, body, content_type)
        response = HttpResponse(body, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        start, end = wanted or (0, size - 1)
        status = 200 if wanted is None else 206
        prefix = _accel_prefix(request, storage)
        if prefix:
            response = _handed_over(storage, key, prefix, start, end, status, content_type)
        else:
            response = _streamed(storage, key, start, end, status, content_type)
        if wanted is not None:
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = tag
    response["Cache-Control"] = cache
    safety_headers(response, name, content_type)
    return response


def _streamed(storage, key: str, start: int, end: int, status: int, content_type: str) -> StreamingHttpResponse:
    """Bytes start..end (inclusive) read from storage as they are sent; a local file is also named
    for sendfile(2) under `serve` (core.wsgi_bridge.SENDFILE_ATTRIBUTE), which then sends it
    without reading it through Python."""
    chunks = storage.read(key, start, end) if status == 206 else storage.read(key)
    response = StreamingHttpResponse(chunks, status=status, content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    path = storage.path(key) if storage.kind == "local" else None
    if path is not None:
        setattr(response, SENDFILE_ATTRIBUTE, (str(path), start, end - start + 1))
    return response


def _accel_prefix(request: HttpRequest, storage) -> str:
    """FILES_ACCEL_REDIRECT when the proxy in front sends the file: local storage, a request the proxy
    marked, and not under `serve` (which sends it by sendfile(2) itself); empty otherwise."""
    prefix = getattr(settings, "FILES_ACCEL_REDIRECT", "")
    if not prefix or storage.kind != "local" or request.META.get(EMBEDDED_SERVER):
        return ""
    return prefix if request.META.get(SENDFILE_TYPE, "").strip().lower() == "x-accel-redirect" else ""


def _handed_over(storage, key: str, prefix: str, start: int, end: int, status: int, content_type: str) -> HttpResponse:
    """An empty answer naming bytes start..end of the stored file for the proxy to send: the path under
    the storage folder (storage.path refuses a key that resolves outside it), percent-encoded, so
    the proxy's root joined with it is that file and nothing else."""
    relative = storage.path(key).relative_to(storage.root).as_posix()
    response = HttpResponse(status=status, content_type=content_type)
    response[ACCEL_REDIRECT] = f"{prefix}/{quote(relative, safe='/')}"
    response[ACCEL_RANGE] = f"bytes={start}-{end}" if status == 206 else ""
    return response


def etag_matches_hash(header: str, tag: str) -> bool:
    return any(part.strip().removeprefix("W/") in ("*", tag) for part in header.split(","))


__all__ = ["serve", "parse_range", "disposition", "etag_matches"]

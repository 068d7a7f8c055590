"""The content type of a file from its first bytes; the client's claim is only a hint.

`filetype` (magic numbers of ~80 binary formats, pure Python) names images, media and archives;
markup that browsers would execute (HTML, SVG, XML) is recognised here, since `filetype` does not
look at text. Anything unrecognised is text/plain (valid UTF-8) or application/octet-stream.
"""

from __future__ import annotations

import re

import filetype

HEAD = 8192  # bytes read to decide
# Text types a client may name for bytes that sniff as plain text (JS and CSS cannot be sniffed).
TEXT_REFINEMENTS = frozenset(
    {"text/css", "text/csv", "text/markdown", "application/json", "application/javascript", "text/javascript"}
)
# Served inline; everything else is an attachment (SECURITY.md T10: default deny).
INLINE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "image/heic",
        "text/plain",
        "application/json",
        "text/csv",
    }
)
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_HTML = re.compile(rb"<(!doctype\s+html|html|head|body|script|iframe|object|embed|meta|svg|a\s|img\s|style)", re.I)
_TYPE = re.compile(r"\A[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\Z")


def _text_type(head: bytes) -> str:
    text = head.lstrip(b"\xef\xbb\xbf\x00\t\r\n ").lower()
    if text.startswith(b"<?xml"):
        return "image/svg+xml" if b"<svg" in text else "application/xml"
    if text.startswith(b"<svg") or (text.startswith(b"<!doctype svg")):
        return "image/svg+xml"
    if _HTML.search(head[:1024]):
        return "text/html"
    if b"\x00" in head:
        return "application/octet-stream"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # a character cut at the end of the window is fine
            return "application/octet-stream"
    return "text/plain"


def sniff(head: bytes) -> str:
    if not head:
        return "application/octet-stream"
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    return _text_type(head)


def normalise_declared(raw: str | None) -> str | None:
    if not raw:
        return None
    value = raw.split(";", 1)[0].strip().lower()
    return value if _TYPE.match(value) else None


def decide(head: bytes, declared: str | None) -> tuple[str, str | None]:
    """(content type to record, refusal message or None) from the bytes and the client's claim."""
    sniffed = sniff(head)
    declared = normalise_declared(declared)
    if declared and declared != sniffed:
        if sniffed == "text/plain" and declared in TEXT_REFINEMENTS:
            return declared, None
        major = declared.split("/", 1)[0]
        if major in ("image", "video", "audio") and not sniffed.startswith(major + "/"):
            return sniffed, f"The bytes are not {declared} (they look like {sniffed})."
    return sniffed, None


def type_allowed(content_type: str, allowed: list[str]) -> bool:
    if not allowed:
        return True
    for pattern in allowed:
        if pattern == content_type or pattern == "*/*":
            return True
        if pattern.endswith("/*") and content_type.startswith(pattern[:-1]):
            return True
    return False


def inline(content_type: str) -> bool:
    return content_type in INLINE_TYPES or content_type.startswith(("video/", "audio/"))

"""Thumbnails of JPEG, PNG, WebP and GIF (first frame): EXIF orientation applied, metadata dropped.

A source whose header declares more than MAX_PIXELS is refused before any pixel is decoded
(decompression bombs). Each (file, size, fit) is rendered once and kept beside the original.
"""

from __future__ import annotations

import io
import logging
import math
from typing import Any

from django.db import IntegrityError, transaction

from basalt.core.errors import BasaltError, ValidationFailed
from basalt.files import kept, sources
from basalt.files.config import files_config, parse_size
from basalt.files.models import File, Thumbnail
from basalt.files.sniff import IMAGE_TYPES
from basalt.files.storage import get_storage

logger = logging.getLogger("basalt.files")
MAX_PIXELS = 50_000_000  # ~ 8000 x 6000; a 12-megapixel photo is well within
MAX_SOURCE_BYTES = 64 * 1024 * 1024
FITS = ("cover", "contain")
OUTPUT = {"image/jpeg": ("JPEG", "image/jpeg"), "image/webp": ("WEBP", "image/webp")}


class NotThumbnailable(BasaltError):
    status = 422
    code = "validation_failed"
    default_message = "No thumbnail can be made of this file."


def check_spec(project, thumb: Any, fit: Any) -> tuple[int, int, str] | None:
    """The one check of a thumbnail request (`?thumb=&fit=` on content, `thumb`/`fit` of a signed
    URL): None for the original, else (width, height, fit); anything malformed is a 400 here, so
    a signed URL is never minted for a request its content route would refuse."""
    for name, value in (("thumb", thumb), ("fit", fit)):
        if value is not None and not isinstance(value, str):
            raise ValidationFailed(details={name: ["Must be a string (thumb=WxH, fit=cover or contain)."]})
    if thumb is None:
        if fit is not None:
            # `fit` alone would be silently ignored; a client that sent it meant a thumbnail.
            raise ValidationFailed(details={"fit": ["`fit` applies only with thumb=WxH (fit=cover or contain)."]})
        return None
    config = files_config(project)
    size = parse_size(thumb)
    fit = fit or "cover"
    if size is None or fit not in FITS:
        raise ValidationFailed(details={"thumb": ["Use thumb=WxH (e.g. 256x256) and fit=cover or contain."]})
    if thumb not in config.thumbnail_sizes:
        raise ValidationFailed(
            details={"thumb": [f"Allowed sizes for this project: {', '.join(config.thumbnail_sizes) or 'none'}."]}
        )
    return size[0], size[1], fit


def decode(data: bytes, longest: int):
    """The image upright (EXIF orientation applied), decoded no larger than needed for thumbnails
    whose longest side is `longest`; the caller must not change it (it may be shared: sources.py)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise NotThumbnailable(f"The image has more than {MAX_PIXELS} pixels.")
            probe.seek(0)  # GIF and animated WebP: the first frame
            # JPEG: decode at 1/2, 1/4 or 1/8 scale straight from the DCT coefficients, never below
            # the size asked for (a 12-megapixel photo decoded whole took most of a first render).
            # A square of the longest side, so an EXIF rotation cannot leave one side short.
            probe.draft(probe.mode if probe.mode in ("RGB", "L") else None, (longest, longest))
            return ImageOps.exif_transpose(probe.copy() if probe.mode != "P" else probe.convert("RGBA"))
    except NotThumbnailable:
        raise
    except Image.DecompressionBombError:
        raise NotThumbnailable(f"The image has more than {MAX_PIXELS} pixels.") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise NotThumbnailable(f"The image cannot be decoded ({type(exc).__name__}).") from None


def render(image, width: int, height: int, fit: str, content_type: str) -> tuple[bytes, str]:
    """The thumbnail's bytes and type from a decoded source, which is left as it was."""
    from PIL import Image, ImageOps

    if fit == "cover":
        # Formats without a reduced decode (PNG, WebP, GIF): a box-filter reduce first, leaving
        # LANCZOS at least twice the target to work on (what thumbnail()'s reducing_gap does).
        factor = min(image.width // (width * 2), image.height // (height * 2))
        if factor >= 2:
            image = image.reduce(factor)
        image = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    else:
        size = contained_size(image.width, image.height, width, height)
        if size is not None:
            # Not Image.thumbnail(): it resizes in place, and the source may be another render's too.
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
    pil_format, out_type = OUTPUT.get(content_type, ("PNG", "image/png"))
    if pil_format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    out = io.BytesIO()
    # No exif=, no pnginfo=: nothing of the source's metadata (GPS, camera, comments) is written.
    image.save(out, pil_format, quality=85) if pil_format != "PNG" else image.save(out, "PNG", optimize=False)
    return out.getvalue(), out_type


def contained_size(source_width: int, source_height: int, width: int, height: int) -> tuple[int, int] | None:
    """The size Pillow's Image.thumbnail gives a source fitted within width x height (the side
    nearest the aspect ratio, at least 1), or None when it fits already: never enlarged."""
    if width >= source_width and height >= source_height:
        return None
    aspect = source_width / source_height

    def nearest(number: float, error) -> int:
        return max(min(math.floor(number), math.ceil(number), key=error), 1)

    if width / height >= aspect:
        return nearest(height * aspect, lambda n: abs(aspect - n / height)), height
    return width, nearest(width / aspect, lambda n: 0 if n == 0 else abs(aspect - width / n))


def thumbnail(row: File, width: int, height: int, fit: str) -> Thumbnail:
    spec = f"{width}x{height}-{fit}"
    key = f"p{row.project_id}/{row.id}/thumb-{spec}"
    held = kept.get(key)
    if held is not None:
        # Kept only once its row was made or read, and that row goes only with the file the caller
        # just read: the row's query was the one thing a cached thumbnail did beyond a metadata GET
        # (1.25-1.35x its p50 here, through Caddy or not). Unsaved: what serving needs of it.
        return Thumbnail(file=row, spec=spec, storage_key=key, content_type=held.content_type, size=len(held.body))
    existing = Thumbnail.objects.filter(file=row, spec=spec).first()
    if existing is not None:
        return existing
    if row.content_type not in IMAGE_TYPES:
        raise NotThumbnailable("Thumbnails are made of JPEG, PNG, WebP and GIF images only.")
    if row.size > MAX_SOURCE_BYTES:
        raise NotThumbnailable(f"The image is larger than {MAX_SOURCE_BYTES} bytes.")
    storage = get_storage()
    longest = max(width, height)
    with sources.decoded(
        row.storage_key, longest, lambda: decode(b"".join(storage.read(row.storage_key)), longest)
    ) as image:
        body, out_type = render(image, width, height, fit, row.content_type)
    writer = storage.writer(key)
    writer.write(body)
    writer.commit()
    try:
        with transaction.atomic():
            made = Thumbnail.objects.create(file=row, spec=spec, storage_key=key, content_type=out_type, size=len(body))
    except IntegrityError:  # made at the same moment by another request: same bytes, keep theirs
        return Thumbnail.objects.get(file=row, spec=spec)
    # Served from these bytes (after the same checks as any read, serving.py) instead of fetched
    # back from storage right after they were written there.
    kept.put(key, body, out_type)
    return made


def schedule_thumbnails(row: File) -> None:
    """After commit, render the project's sizes in the background (only for images)."""
    if row.content_type not in IMAGE_TYPES:
        return
    from basalt.files.tasks import make_thumbnails

    transaction.on_commit(lambda: make_thumbnails.delay(row.id))


def make_all(file_id: str) -> int:
    row = File.objects.filter(pk=file_id, status=File.READY).select_related("project").first()
    if row is None:
        return 0
    made = 0
    for spec in files_config(row.project).thumbnail_sizes:
        width, height = parse_size(spec) or (0, 0)
        try:
            thumbnail(row, width, height, "cover")
            made += 1
        except NotThumbnailable as exc:
            logger.info("no thumbnail for file %s: %s", file_id, exc.message)
            return made
    return made

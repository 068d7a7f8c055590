"""Real image bytes made with Pillow for tests (no binary fixtures in git)."""

from __future__ import annotations

import io


def png(width: int = 4, height: int = 3, color=(200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def jpeg_with_exif(width: int = 40, height: int = 20, orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says 'rotate 90°' and carries a GPS-like comment to strip."""
    from PIL import Image

    image = Image.new("RGB", (width, height), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "secret location 48.85N 2.35E"  # ImageDescription
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def gif_two_frames() -> bytes:
    from PIL import Image

    first = Image.new("RGB", (10, 10), (255, 0, 0))
    second = Image.new("RGB", (10, 10), (0, 0, 255))
    out = io.BytesIO()
    first.save(out, "GIF", save_all=True, append_images=[second], duration=100)
    return out.getvalue()


def webp(width: int = 30, height: int = 30) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (1, 2, 3)).save(out, "WEBP")
    return out.getvalue()


def png_bomb_header(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG that declares width x height pixels but is tiny on the wire."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG", optimize=True)
    return out.getvalue()


def banded_photo(width: int = 2400, height: int = 1600, orientation: int = 6) -> bytes:
    """A photo-sized JPEG (large enough for a reduced DCT decode): a red band along the top quarter,
    blue below, an EXIF orientation and a description to strip."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (0, 0, 255))
    ImageDraw.Draw(image).rectangle((0, 0, width, height // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010E] = "secret location 48.85N 2.35E"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header (SOF0) claims width x height pixels."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (16, 16), (5, 5, 5)).save(out, "JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)

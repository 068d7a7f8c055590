"""Sanitise client-supplied file names: no paths, no control characters, bounded length."""

from __future__ import annotations

import unicodedata

MAX_NAME = 255


def clean_name(raw: object, fallback: str = "file") -> str:
    """`../x` → `x`, `a.png\\x00.html` → `a.png.html`, `a.svg.` → `a.svg`; never empty, ≤ 255 chars."""
    if not isinstance(raw, str):
        return fallback
    name = unicodedata.normalize("NFC", raw[-65536:])  # the extension lives at the end
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Control characters (C0, DEL, C1) and Unicode format characters such as RTL overrides.
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = name.strip().strip(".").strip()
    if not name:
        return fallback
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME]
    return name

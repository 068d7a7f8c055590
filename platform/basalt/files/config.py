"""The project settings section `files`: limits, allowed types, default ACL, thumbnails, orphans, quota."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from basalt.core.errors import ValidationFailed
from basalt.files.sniff import _TYPE
from basalt.projects.models import Project
from basalt.projects.project_settings import LIMIT_CEILINGS, effective_settings

ACL_KINDS = ("owner", "owner_write_public_read", "public")
_SIZE = re.compile(r"\A([1-9][0-9]{0,3})x([1-9][0-9]{0,3})\Z")
MAX_THUMB_SIDE = 4096
DEFAULTS: dict[str, Any] = {
    "max_size": None,  # None: the project's limits.max_file_size (50 MiB by default)
    "allowed_types": [],  # empty: any type; entries like "image/*" or "application/pdf"
    "default_acl": "owner",
    "upload": ["authenticated"],  # who may upload with a publishable key (the secret key always may)
    "thumbnail_sizes": ["128x128", "512x512"],
    "orphan_window_hours": 24,  # 0: never remove unreferenced files
    "quota_bytes": None,  # None: unlimited
}


@dataclass(frozen=True)
class FilesConfig:
    max_size: int
    allowed_types: list[str]
    default_acl: str
    upload: list[str]
    thumbnail_sizes: list[str]
    orphan_window_hours: int
    quota_bytes: int | None


def files_config(project: Project) -> FilesConfig:
    merged = effective_settings(project)
    section = {**DEFAULTS, **(merged.get("files") or {})}
    max_size = section["max_size"] or merged["limits"]["max_file_size"]
    return FilesConfig(
        max_size=int(max_size),
        allowed_types=list(section["allowed_types"]),
        default_acl=section["default_acl"],
        upload=list(section["upload"]),
        thumbnail_sizes=list(section["thumbnail_sizes"]),
        orphan_window_hours=int(section["orphan_window_hours"]),
        quota_bytes=section["quota_bytes"],
    )


def parse_size(spec: str) -> tuple[int, int] | None:
    match = _SIZE.match(spec) if isinstance(spec, str) else None
    if not match:
        return None
    width, height = int(match[1]), int(match[2])
    if width > MAX_THUMB_SIDE or height > MAX_THUMB_SIDE:
        return None
    return width, height


def _int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def validate_files_section(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(details={"files": ["Must be an object."]})
    errors: dict[str, list[str]] = {}
    for name in value:
        if name not in DEFAULTS:
            errors[f"files.{str(name)[:100]}"] = ["Unknown setting."]
    ceiling = LIMIT_CEILINGS["max_file_size"]
    checks = {
        "max_size": (lambda v: v is None or _int(v, 1, ceiling), f"An integer from 1 to {ceiling}, or null."),
        "allowed_types": (
            lambda v: (
                isinstance(v, list)
                and len(v) <= 100
                and all(isinstance(t, str) and (t == "*/*" or _TYPE.match(t.replace("/*", "/x"))) for t in v)
            ),
            'A list of types like "image/png" or "image/*".',
        ),
        "default_acl": (lambda v: v in ACL_KINDS, f"One of {', '.join(ACL_KINDS)}."),
        "upload": (
            lambda v: (
                isinstance(v, list)
                and len(v) <= 50
                and all(isinstance(p, str) and (p in ("*", "authenticated") or p.startswith("role:")) for p in v)
            ),
            'A list of "*", "authenticated" or "role:<name>".',
        ),
        "thumbnail_sizes": (
            lambda v: isinstance(v, list) and len(v) <= 10 and all(parse_size(s) for s in v),
            f'Up to 10 sizes like "256x256" (each side 1 to {MAX_THUMB_SIDE}).',
        ),
        "orphan_window_hours": (lambda v: _int(v, 0, 24 * 365), "An integer from 0 (never) to 8760."),
        "quota_bytes": (lambda v: v is None or _int(v, 0, 2**62), "A number of bytes, or null (unlimited)."),
    }
    for name, (check, message) in checks.items():
        if name in value and not check(value[name]):
            errors[f"files.{name}"] = [message]
    if errors:
        raise ValidationFailed(details=errors)
    return value

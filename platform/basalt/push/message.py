"""Validate a push request's message and render it per locale; refuse payloads past a provider's limit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from basalt.core.errors import ValidationFailed
from basalt.core.json import NUL_MESSAGE, has_nul

TEXT_LIMIT = 2048
_LOCALE = re.compile(r"\A[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}\Z")
_COLLAPSE = re.compile(r"\A[\x21-\x7e]{1,64}\Z")
PRIORITIES = ("high", "normal")
NOTIFICATION_KEYS = {"title", "body", "image"}


def _err(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, details={field: [message]})


def _texts(value: Any, field: str, allowed: set[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _err(field, "Must be an object.")
    unknown = sorted(str(key)[:40] for key in value if key not in allowed)
    if unknown:
        raise _err(f"{field}.{unknown[0]}", "Unknown field.")
    out: dict[str, str] = {}
    for key, text in value.items():
        if not isinstance(text, str) or len(text) > TEXT_LIMIT:
            raise _err(f"{field}.{key}", f"Must be a string of at most {TEXT_LIMIT} characters.")
        if "\x00" in text:
            raise _err(f"{field}.{key}", NUL_MESSAGE)
        out[key] = text
    if "image" in out and not re.match(r"\Ahttps?://\S+\Z", out["image"]):
        raise _err(f"{field}.image", "Must be an http(s) URL.")
    return out


def normalize_locale(value: str) -> str:
    return value.replace("_", "-").lower()


def clean_message(body: dict[str, Any]) -> dict[str, Any]:
    """The message part of POST /api/v1/push, validated (raises 400 validation_failed)."""
    out: dict[str, Any] = {}
    notification = body.get("notification")
    if notification is not None:
        out["notification"] = _texts(notification, "notification", NOTIFICATION_KEYS)
    data = body.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise _err("data", "Must be an object.")
        for key in data:
            if (
                not isinstance(key, str)
                or not key
                or len(key) > 128
                or key in ("from", "aps")
                or key.startswith(("google.", "gcm."))
            ):
                raise _err(f"data.{str(key)[:40]}", "Reserved or invalid key.")
        if has_nul(data):
            raise _err("data", NUL_MESSAGE)
        out["data"] = data
    localized = body.get("localized")
    if localized is not None:
        if not isinstance(localized, dict) or len(localized) > 100:
            raise _err("localized", 'Must be an object of at most 100 locales, e.g. {"fr": {"title": …}}.')
        cleaned: dict[str, dict[str, str]] = {}
        for locale, texts in localized.items():
            if not isinstance(locale, str) or not _LOCALE.match(locale):
                raise _err(f"localized.{str(locale)[:40]}", "Not a BCP 47 language tag.")
            cleaned[normalize_locale(locale)] = _texts(texts, f"localized.{locale}", NOTIFICATION_KEYS)
        out["localized"] = cleaned
    if not out.get("notification") and not out.get("data") and not out.get("localized"):
        raise _err("notification", "A push needs a notification, localized texts or data.")
    badge = body.get("badge")
    if badge is not None:
        if badge != "increment" and (isinstance(badge, bool) or not isinstance(badge, int) or not 0 <= badge <= 99999):
            raise _err("badge", 'Must be a number from 0 to 99999 or "increment".')
        out["badge"] = badge
    collapse_key = body.get("collapse_key")
    if collapse_key is not None:
        if not isinstance(collapse_key, str) or not _COLLAPSE.match(collapse_key):
            raise _err("collapse_key", "Must be 1 to 64 printable ASCII characters.")
        out["collapse_key"] = collapse_key
    priority = body.get("priority", "high")
    if priority not in PRIORITIES:
        raise _err("priority", "Must be 'high' or 'normal'.")
    out["priority"] = priority
    return out


def texts_for(message: dict[str, Any], locale: str) -> dict[str, str]:
    """The notification texts for a locale: exact tag, then its language, then the default."""
    base = dict(message.get("notification") or {})
    localized = message.get("localized") or {}
    if locale:
        tag = normalize_locale(locale)
        chosen = localized.get(tag) or localized.get(tag.split("-", 1)[0])
        if chosen:
            base.update(chosen)
    return base


def variants(message: dict[str, Any]) -> list[dict[str, str]]:
    """Every text set a recipient could get (the default and each locale), for size checks."""
    out = [texts_for(message, "")]
    out.extend(texts_for(message, locale) for locale in (message.get("localized") or {}))
    return out


def ttl_seconds(expires_at: datetime | None, now: datetime) -> int | None:
    if expires_at is None:
        return None
    return max(0, int((expires_at - now).total_seconds()))


def json_size(value: Any) -> int:
    return len(orjson.dumps(value))

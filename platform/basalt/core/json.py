"""Parse and render JSON with orjson: strict UTF-8, no NaN, bounded nesting, and fast."""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.conf import settings
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer

from basalt.core.errors import InvalidJson, PayloadTooLarge

# Deeper documents are refused before they can cost recursion elsewhere (orjson stops at 1024).
MAX_JSON_DEPTH = 64


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether any value sits more than `limit` levels deep (the value itself is level 1). Walked a
    level at a time, scalars looked at once and never stacked: a batch of 50 objects is thousands
    of values, and this runs on every JSON body."""
    level = [value]
    for _ in range(limit):
        deeper: list[Any] = []
        for item in level:
            if isinstance(item, dict):
                deeper.extend(item.values())
            elif isinstance(item, list):
                deeper.extend(item)
        if not deeper:
            return False
        level = deeper
    return True


NUL_MESSAGE = "Text may not contain NUL characters."


def has_nul(value: Any) -> bool:
    """Whether a JSON value holds U+0000 in any string or key.

    PostgreSQL's text and jsonb cannot store it (SQLite can): a value bound for storage is refused
    with this as a validation error naming the field, the same on both engines, before any write.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def loads_body(raw: bytes) -> Any:
    """Decode a request body or raise InvalidJson/PayloadTooLarge."""
    if len(raw) > settings.BASALT_MAX_JSON_BODY:
        raise PayloadTooLarge()
    if not raw.strip():
        raise InvalidJson("The request body is empty.")
    return loads_json(raw)


def loads_json(raw: bytes | str, what: str = "The request body") -> Any:
    """Decode JSON a client sent (a body, a realtime message) or raise InvalidJson.

    Past MAX_JSON_DEPTH levels it is refused here: orjson reads up to 1024 but renders at most 254,
    so a deeper value echoed back (a realtime presence or broadcast) failed when it was sent on."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
        if "utf-8" in reason.lower() or "surrogate" in reason.lower():
            raise InvalidJson(f"{what} is not valid UTF-8.") from None
        if "recursion" in reason.lower():
            raise InvalidJson(f"{what} is nested too deeply.") from None
        raise InvalidJson(f"{what} is not valid JSON.") from None
    if json_depth_exceeds(value):
        raise InvalidJson(f"{what} is nested deeper than {MAX_JSON_DEPTH} levels.")
    return value


class StoredJson(json.JSONDecoder):
    """Every model's JSONField reads its column with this: the same decoder as request bodies.

    PostgreSQL's jsonb prints 1e20 as `100000000000000000000`; the standard library reads that back as an
    integer past 64 bits, which no response renderer takes (a push history with such a number answered
    500). orjson reads it as the float it was sent as, and is faster.
    """

    def decode(self, s, _w=None):
        return orjson.loads(s)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


class OrjsonParser(BaseParser):
    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        # Read one byte past the limit: enough to refuse an oversized body without holding all of it.
        raw = stream.read(settings.BASALT_MAX_JSON_BODY + 1) if stream is not None else b""
        return loads_body(raw)


class OrjsonRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return dumps(data)

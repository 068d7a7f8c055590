"""Turn GET query-string parameters into the query dict the engine takes (where is JSON, lists are commas)."""

from __future__ import annotations

from typing import Any

import orjson
from django.http import QueryDict

from basalt.core.errors import InvalidQuery

MAX_PARAM = 64 * 1024
LIST_PARAMS = ("order", "fields", "expand")


def _single(params: QueryDict, name: str) -> str | None:
    values = params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidQuery(f"`{name}` is given more than once.")
    if len(values[0]) > MAX_PARAM:
        raise InvalidQuery(f"`{name}` is too long.")
    return values[0]


def comma_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def query_from_params(params: QueryDict, allowed: frozenset[str]) -> dict[str, Any]:
    unknown = set(params) - allowed
    if unknown:
        raise InvalidQuery(f"Unknown query parameter {sorted(unknown)[0][:40]!r}.")
    raw: dict[str, Any] = {}
    where = _single(params, "where")
    if where is not None:
        try:
            raw["where"] = orjson.loads(where)
        except orjson.JSONDecodeError:
            raise InvalidQuery("`where` must be JSON.") from None
    for name in LIST_PARAMS:
        value = _single(params, name)
        if value is not None:
            raw[name] = comma_list(value)
    limit = _single(params, "limit")
    if limit is not None:
        if not (limit.isascii() and limit.isdigit()) or len(limit) > 9:
            raise InvalidQuery("`limit` must be a non-negative integer.")
        raw["limit"] = int(limit)
    cursor = _single(params, "cursor")
    if cursor is not None:
        raw["cursor"] = cursor
    count = _single(params, "count")
    if count is not None:
        if count not in ("true", "false"):
            raise InvalidQuery("`count` must be true or false.")
        raw["count"] = count == "true"
    return raw

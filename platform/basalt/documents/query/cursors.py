"""Opaque keyset cursors: the last row's sort values, signed so they cannot be forged or reused elsewhere."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.core import signing

from basalt.core.errors import InvalidQuery

SALT = "basalt.documents.query.cursor"


def order_signature(collection: Any, query: Any) -> str:
    """Name what a cursor is bound to: the collection, the order and any `$near` point."""
    parts = [str(collection.pk), ",".join(key.label for key in query.order)]
    if query.near is not None:
        parts.append(f"{query.near.field.name}@{query.near.lat!r},{query.near.lng!r}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def encode_cursor(collection: Any, query: Any, sort_values: list[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in sort_values]
    return signing.dumps({"s": order_signature(collection, query), "v": plain}, salt=SALT, compress=False)


def decode_cursor(token: str, collection: Any, query: Any) -> list[Any]:
    """Return the sort values a cursor carries, or raise InvalidQuery if forged or from another query."""
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise InvalidQuery("The cursor is invalid.", details={"parameter": "cursor"})
    if not isinstance(payload, dict) or payload.get("s") != order_signature(collection, query):
        raise InvalidQuery("The cursor belongs to another collection or order.", details={"parameter": "cursor"})
    sort_values = payload.get("v")
    if not isinstance(sort_values, list) or len(sort_values) != len(query.order):
        raise InvalidQuery("The cursor is invalid.", details={"parameter": "cursor"})
    return sort_values

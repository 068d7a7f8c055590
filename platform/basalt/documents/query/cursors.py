"""Opaque keyset cursors: the last row's sort values, encrypted and bound to the query they continue.

A cursor carries the sort values of the last row of a page, and those can be values the caller
may not read in full (a sort on a field whose documents are only partly visible, a timestamp).
So they travel encrypted, not just signed: AES-256-GCM under a key derived from SECRET_KEY, with
the project, the collection, the order, the `$near` point and the `where` as associated data.
A cursor that was altered, made with another key, or presented with another query does not
decrypt, and all of these answer the same `400 invalid_query`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from datetime import datetime
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from basalt.core.errors import InvalidQuery

INFO = b"basalt.documents.query.cursor.v1"
NONCE_BYTES = 12
_keys: dict[str, AESGCM] = {}


def _cipher() -> AESGCM:
    secret = settings.SECRET_KEY
    cipher = _keys.get(secret)
    if cipher is None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(secret.encode())
        cipher = _keys[secret] = AESGCM(key)
    return cipher


def query_binding(collection: Any, query: Any) -> bytes:
    """What a cursor belongs to: project, collection, order, `$near` point and the parsed `where`."""
    parts = [
        str(collection.project_id),
        str(collection.pk),
        ",".join(key.label for key in query.order),
        repr(query.near),
        repr(query.where),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def encode_cursor(collection: Any, query: Any, sort_values: list[Any]) -> str:
    plain = orjson.dumps([value.isoformat() if isinstance(value, datetime) else value for value in sort_values])
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, plain, query.binding or query_binding(collection, query))
    return base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def decode_cursor(token: str, collection: Any, query: Any) -> list[Any]:
    """Return the sort values a cursor carries, or raise InvalidQuery if altered or from another query."""
    invalid = InvalidQuery(
        "The cursor is invalid or belongs to another query (collection, where, order).",
        details={"parameter": "cursor"},
    )
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        binding = query.binding or query_binding(collection, query)
        plain = _cipher().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], binding)
        sort_values = orjson.loads(plain)
    except (binascii.Error, ValueError, InvalidTag, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(sort_values, list) or len(sort_values) != len(query.order):
        raise invalid
    return sort_values

"""Mint, hash and resolve API keys; the raw key exists only in the response that creates it."""

from __future__ import annotations

import hashlib
import secrets

from basalt.core.errors import InvalidApiKey
from basalt.projects.models import ApiKey

PREFIXES = {ApiKey.PUBLISHABLE: "pk_", ApiKey.SECRET: "sk_"}
MAX_KEY_LENGTH = 128


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def mint_key(kind: str) -> str:
    return PREFIXES[kind] + secrets.token_urlsafe(32)


def resolve_key(raw: str | None) -> ApiKey:
    """Find the active key (with its project) in one query, or raise invalid_api_key."""
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.startswith(tuple(PREFIXES.values())):
        raise InvalidApiKey()
    key = ApiKey.objects.select_related("project").filter(key_hash=hash_key(raw), revoked_at__isnull=True).first()
    if key is None or not raw.startswith(PREFIXES[key.kind]):
        raise InvalidApiKey()
    return key

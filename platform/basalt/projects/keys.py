"""Mint, hash and resolve API keys; the raw key exists only in the response that creates it."""

from __future__ import annotations

import hashlib
import secrets

from django.db import connection

from basalt.core.errors import InvalidApiKey
from basalt.core.rawrows import RowLoader
from basalt.projects.models import ApiKey, Project

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
    with connection.cursor() as cursor:
        cursor.execute(_resolve_sql(), [hash_key(raw)])
        row = cursor.fetchone()
    if row is None:
        raise InvalidApiKey()
    split = len(_KEY_ROWS.fields)
    key = _KEY_ROWS.load(row[:split], connection)
    key.project = _PROJECT_ROWS.load(row[split:-1], connection)
    # Read with the key at no extra round trip: a cached bearer resolution of an older epoch is
    # not trusted (basalt.identity.resolver).
    key.project.caller_epoch = row[-1]
    if not raw.startswith(PREFIXES[key.kind]):
        raise InvalidApiKey()
    return key


_KEY_ROWS = RowLoader(ApiKey, "k")
_PROJECT_ROWS = RowLoader(Project, "p")


# basalt.identity.models.CallerEpoch: bumped by triggers on every change to sessions, users,
# roles and signing keys that could change who a bearer token's caller is.
CALLER_EPOCH_TABLE = "basalt_caller_epoch"
_SQL: dict[str, str] = {}


def _resolve_sql() -> str:
    """The key, its project and the project's caller epoch in one indexed lookup (written once:
    the ORM's compile step cost more than the query itself on this per-request path)."""
    sql = _SQL.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        sql = _SQL[connection.vendor] = (
            f"SELECT {_KEY_ROWS.columns(quote)}, {_PROJECT_ROWS.columns(quote)}, COALESCE(e.version, 0) "  # noqa: S608 (model columns only)
            f"FROM {quote(ApiKey._meta.db_table)} k JOIN {quote(Project._meta.db_table)} p ON p.id = k.project_id "
            f"LEFT JOIN {CALLER_EPOCH_TABLE} e ON e.project_id = p.id "
            "WHERE k.key_hash = %s AND k.revoked_at IS NULL"
        )
    return sql

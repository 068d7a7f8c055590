"""Mint, hash and resolve API keys; the raw key exists only in the response that creates it."""

from __future__ import annotations

import hashlib
import json
import secrets

import orjson
from django.db import connection
from django.db.models import Model
from django.db.models.base import ModelState

from basalt.core import unchanged
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
    """Find the active key (with its project) in one query, or raise invalid_api_key.

    The query reads only what can change on a live key and its project (the key's name and owner,
    the project's name, schema version and settings): when those match what this process loaded
    before, the key and project are copies of the loaded ones and only the settings are parsed.
    Revocation still takes effect on the very next request, which runs the query (on SQLite, unless
    the file is unchanged since this connection last ran it for this key: core.unchanged)."""
    if not raw or len(raw) > MAX_KEY_LENGTH or not raw.startswith(tuple(PREFIXES.values())):
        raise InvalidApiKey()
    hashed = hash_key(raw)
    row = unchanged.remembered(("api-key", hashed), lambda: _current_row(hashed))
    if row is None:
        raise InvalidApiKey()
    *current, settings_text, epoch = row
    current = tuple(current)
    cached = _loaded.get(current)
    if cached is None:
        cached = _load(current[0])
    key, project = _copy(cached[0]), _copy(cached[1])
    key.project = project
    # Each request parses its own settings (from the text just read): an edit in memory stays in
    # its request, and parsing is cheaper than copying the loaded dict deeply.
    project.settings = _settings(settings_text)
    # Read with the key at no extra round trip: a cached bearer resolution of an older epoch is
    # not trusted (basalt.identity.resolver).
    project.caller_epoch = epoch
    if not raw.startswith(PREFIXES[key.kind]):
        raise InvalidApiKey()
    return key


_KEY_ROWS = RowLoader(ApiKey, "k")
_PROJECT_ROWS = RowLoader(Project, "p")

# What can change on a live key's row and its project's, settings last (besides the change-log
# counter, which every write bumps and which request code reads from the database, never from here).
_CURRENT_COLUMNS = "k.id, k.name, k.created_by_id, p.name, p.schema_version, CAST(p.settings AS TEXT)"  # noqa: S608
# (current columns but settings) -> (key, project) as loaded; requests get shallow copies with
# their own settings, so what one request sets on its instances never reaches another.
_loaded: dict[tuple, tuple[ApiKey, Project]] = {}
LOADED_CACHE_SIZE = 10_000


def _current_row(hashed: str) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(_sql("current"), [hashed])
        return cursor.fetchone()


def _load(key_id: str) -> tuple[ApiKey, Project]:
    with connection.cursor() as cursor:
        cursor.execute(_sql("load"), [key_id])
        row = cursor.fetchone()
    if row is None:  # revoked since the first read
        raise InvalidApiKey()
    split = len(_KEY_ROWS.fields)
    key = _KEY_ROWS.load(row[:split], connection)
    project = _PROJECT_ROWS.load(row[split : split + len(_PROJECT_ROWS.fields)], connection)
    loaded_current = tuple(row[split + len(_PROJECT_ROWS.fields) : -1])
    if len(_loaded) >= LOADED_CACHE_SIZE:
        _loaded.clear()
    # Keyed by what this load read, not what the first read saw: a change committed between the
    # two never files newer instances under older columns.
    _loaded[loaded_current] = (key, project)
    return key, project


def _copy(instance: Model) -> Model:
    """A shallow copy of a model instance with its own state (cheaper than copy.copy's pickling)."""
    clone = instance.__class__.__new__(instance.__class__)
    clone.__dict__ = instance.__dict__.copy()
    clone._state = ModelState()
    clone._state.adding = False
    clone._state.db = instance._state.db
    return clone


def _settings(text: str | None) -> dict:
    if text is None:
        return {}
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # what orjson refuses and json accepts: NaN and Infinity (SQLite)
        return json.loads(text)


# basalt.identity.models.CallerEpoch: bumped by triggers on every change to sessions, users,
# roles and signing keys that could change who a bearer token's caller is.
CALLER_EPOCH_TABLE = "basalt_caller_epoch"
_SQL: dict[tuple[str, str], str] = {}


def _sql(which: str) -> str:
    """The two statements, written once: the ORM's compile step cost more than the query itself on
    this per-request path. `current`: the live key's current columns and the project's caller
    epoch, by key hash. `load`: the key and project rows in full, with the same current columns."""
    sql = _SQL.get((connection.vendor, which))
    if sql is None:
        quote = connection.ops.quote_name
        tables = f"FROM {quote(ApiKey._meta.db_table)} k JOIN {quote(Project._meta.db_table)} p ON p.id = k.project_id "
        if which == "current":
            sql = (
                f"SELECT {_CURRENT_COLUMNS}, COALESCE(e.version, 0) {tables}"  # noqa: S608 (model columns only)
                f"LEFT JOIN {CALLER_EPOCH_TABLE} e ON e.project_id = p.id "
                "WHERE k.key_hash = %s AND k.revoked_at IS NULL"
            )
        else:
            sql = (
                f"SELECT {_KEY_ROWS.columns(quote)}, {_PROJECT_ROWS.columns(quote)}, {_CURRENT_COLUMNS} "  # noqa: S608
                f"{tables}WHERE k.id = %s AND k.revoked_at IS NULL"
            )
        _SQL[(connection.vendor, which)] = sql
    return sql

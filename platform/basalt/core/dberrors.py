"""Tell a database that cannot be reached from a statement that failed because of what it was asked.

Drivers raise OperationalError for both: psycopg for a lost connection and for "tsvector too long"
or a cancelled statement, sqlite3 for a locked file and for an interrupted or oversized query.
Only the first kind is an outage (503, retry); the others are answers about the request.
"""

from __future__ import annotations

import sqlite3
from enum import Enum

from django.db import DatabaseError, InterfaceError


class DbFailure(Enum):
    UNAVAILABLE = "unavailable"  # unreachable, shutting down, out of connections, disk or memory
    CONFLICT = "conflict"  # deadlock or serialization failure: retrying the request may succeed
    TIMEOUT = "timeout"  # a statement ran past its time budget and was cancelled
    LIMIT = "limit"  # the request exceeds a limit of the database (sizes, expression depth)


# PostgreSQL SQLSTATE classes and codes (Appendix A of its manual).
_PG_UNAVAILABLE_PREFIXES = ("08", "53", "57P", "58")
_PG_CONFLICT = frozenset({"40001", "40P01"})
_PG_TIMEOUT = frozenset({"57014"})
_PG_LIMIT_PREFIX = "54"
# SQLite primary result codes.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 11, 13, 14, 15, 26})
_SQLITE_INTERRUPT = 9
_SQLITE_TOOBIG = 18
# SQLITE_ERROR (1) is also our own bugs; only these messages are limits a request can hit.
_SQLITE_LIMIT_MESSAGES = ("too many sql variables", "expression tree is too large", "parser stack overflow")


def classify(exc: BaseException) -> DbFailure | None:
    """What a database exception means for the caller, or None when it is a server fault (a bug)."""
    if not isinstance(exc, DatabaseError):
        return None
    cause = exc.__cause__ or exc
    if isinstance(cause, sqlite3.Error):
        return _sqlite(cause)
    state = getattr(cause, "sqlstate", None)
    if state is None:
        # No SQLSTATE: the driver never got an answer (refused, reset, closed connection).
        return DbFailure.UNAVAILABLE if isinstance(exc, InterfaceError) or _is_operational(exc) else None
    if state.startswith(_PG_UNAVAILABLE_PREFIXES):
        return DbFailure.UNAVAILABLE
    if state in _PG_CONFLICT:
        return DbFailure.CONFLICT
    if state in _PG_TIMEOUT:
        return DbFailure.TIMEOUT
    if state.startswith(_PG_LIMIT_PREFIX):
        return DbFailure.LIMIT
    return None


def _is_operational(exc: BaseException) -> bool:
    from django.db import OperationalError

    return isinstance(exc, OperationalError)


def _sqlite(cause: sqlite3.Error) -> DbFailure | None:
    code = getattr(cause, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _SQLITE_UNAVAILABLE:
        return DbFailure.UNAVAILABLE
    if primary == _SQLITE_INTERRUPT:
        return DbFailure.TIMEOUT
    if primary == _SQLITE_TOOBIG:
        return DbFailure.LIMIT
    if any(message in str(cause).lower() for message in _SQLITE_LIMIT_MESSAGES):
        return DbFailure.LIMIT
    return None

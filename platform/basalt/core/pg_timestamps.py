"""PostgreSQL: `timestamptz` values of hot reads parsed by psycopg's C loader instead of Django's.

Django reads every `timestamptz` through its own loader, a subclass of psycopg's pure-Python one
(so it can set the tzinfo), which bypasses the C loader psycopg's binary package installs: parsing
a page of 20 documents' 40 timestamps took about a tenth of its server CPU. Where the session's time
zone is UTC (Django sets it so with USE_TZ and TIME_ZONE = "UTC") the C loader returns the same
aware datetimes, in `datetime.timezone.utc`. The C loader cannot be subclassed, and Django's cursor
setup reads a `timezone` attribute off the connection's loader, so it is set on a cursor, not on
the connection: each call costs a copy of the cursor's loader table, worth it for many rows.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import psycopg
from django.db import connection
from psycopg.pq import Format

_OID = psycopg.adapters.types["timestamptz"].oid
_FASTEST = psycopg.adapters.get_loader(_OID, Format.TEXT)  # the C one where psycopg's binary is installed


def fast_timestamps(cursor: Any) -> None:
    """Let this cursor (Django's wrapper on PostgreSQL) parse timestamptz values with `_FASTEST`."""
    if connection.timezone is not UTC or connection.connection.pgconn.parameter_status(b"TimeZone") != b"UTC":
        return
    cursor.cursor.adapters.register_loader(_OID, _FASTEST)

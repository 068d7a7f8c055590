"""Insert many installations at once (imports, benchmarks, load tests), as POST /installations would store them.

No change-log rows are written: a bulk load is not a stream of user writes. Tokens are taken as
given (callers bring provider-valid ones); the upsert-by-token rule is not applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from basalt.documents import store
from basalt.documents.models import new_document_id
from basalt.projects.models import Project
from basalt.push.builtin import installations_collection

PLATFORM = {"fcm": "android", "apns": "ios", "webpush": "web"}


def insert_installations(project: Project, rows: Iterable[dict[str, Any]], chunk: int = 2000) -> int:
    """Each row: {provider, token, [channels, locale, timezone, badge, app_version]}. Returns the count."""
    collection = installations_collection(project)
    now = store.db_time(timezone.now())
    json_param = "%s::jsonb" if store.is_postgres() else "%s"
    sql = (
        "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "  # noqa: S608
        f"write_principals, created_by, created_at, updated_at, version) VALUES (%s, %s, %s, {json_param}, "
        f"{json_param}, {json_param}, {json_param}, NULL, %s, %s, 1)"
    )
    total = 0
    batch: list[list[Any]] = []

    def flush() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, batch)
        batch.clear()

    for row in rows:
        data = {
            "platform": row.get("platform") or PLATFORM[row["provider"]],
            "channels": [],
            "badge": 0,
            **row,
            "active": True,
        }
        batch.append(
            [new_document_id(), project.id, collection.pk, orjson.dumps(data).decode(), "{}", "[]", "[]", now, now]
        )
        total += 1
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()
    return total

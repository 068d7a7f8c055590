"""The key lookup kept while the SQLite file is unchanged (core.unchanged): revocation, renames and
settings still take effect on the very next request, whoever wrote them."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from basalt.core import loop_lane
from basalt.core.errors import InvalidApiKey
from basalt.projects.keys import resolve_key
from basalt.projects.models import ApiKey, Project

pytestmark = pytest.mark.django_db(transaction=True)


# A revocation written past Django, as another process (the CLI, a second server) would write it.
REVOKE_BY_KIND = f"UPDATE {ApiKey._meta.db_table} SET revoked_at = ? WHERE project_id = ? AND kind = ?"  # noqa: S608


def key_queries(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if ApiKey._meta.db_table in q["sql"]]


def another_connection():
    """A connection of its own to the same file, as another process would have."""
    return sqlite3.connect(connection.settings_dict["NAME"], timeout=20, isolation_level=None)


def in_another_thread(work) -> None:
    def run():
        try:
            work()
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()


def test_an_unchanged_file_answers_the_key_without_its_query_and_a_commit_elsewhere_is_seen_next(project):
    resolve_key(project.secret)  # after this connection's own writes (the fixture's) it only notes them
    resolve_key(project.secret)
    with CaptureQueriesContext(connection) as queries:
        assert resolve_key(project.secret).kind == ApiKey.SECRET
    if connection.vendor == "sqlite":
        assert key_queries(queries) == []  # nothing changed since the last lookup
    else:
        assert len(key_queries(queries)) == 1  # PostgreSQL has no such counter: every lookup reads

    # Revoked by another connection (another process, the CLI): refused on the very next lookup.
    if connection.vendor == "sqlite":
        other = another_connection()
        other.execute(REVOKE_BY_KIND, [timezone.now().isoformat(), project.project.id, ApiKey.SECRET])
        other.close()
    else:
        in_another_thread(
            lambda: ApiKey.objects.filter(project=project.project, kind=ApiKey.SECRET).update(revoked_at=timezone.now())
        )
    with pytest.raises(InvalidApiKey):
        resolve_key(project.secret)
    assert resolve_key(project.publishable).kind == ApiKey.PUBLISHABLE


def test_a_commit_on_another_thread_of_this_process_is_seen_next(project):
    resolve_key(project.secret)
    in_another_thread(
        lambda: Project.objects.filter(id=project.project.id).update(settings={"marker": "from a thread"})
    )
    assert resolve_key(project.secret).project.settings == {"marker": "from a thread"}


def test_this_connections_own_commit_is_seen_next(project):
    resolve_key(project.secret)
    ApiKey.objects.filter(project=project.project, kind=ApiKey.SECRET).update(revoked_at=timezone.now())
    with pytest.raises(InvalidApiKey):
        resolve_key(project.secret)


def test_a_rolled_back_change_read_inside_its_transaction_is_never_served_after_it(project):
    resolve_key(project.secret)
    with pytest.raises(RuntimeError), transaction.atomic():
        Project.objects.filter(id=project.project.id).update(name="never committed", settings={"x": 1})
        inside = resolve_key(project.secret)
        assert inside.project.name == "never committed" and inside.project.settings == {"x": 1}
        raise RuntimeError("roll back")
    after = resolve_key(project.secret)
    assert after.project.name != "never committed" and after.project.settings != {"x": 1}
    # And again, now that a lookup outside any transaction has run since.
    assert resolve_key(project.secret).project.settings != {"x": 1}


def test_an_unknown_key_stays_unknown_until_it_is_created(project):
    from basalt.projects.keys import hash_key, mint_key

    raw = mint_key(ApiKey.SECRET)
    for _ in range(2):
        with pytest.raises(InvalidApiKey):
            resolve_key(raw)
    ApiKey.objects.create(
        project=project.project, kind=ApiKey.SECRET, name="later", key_hash=hash_key(raw), last4=raw[-4:]
    )
    assert resolve_key(raw).name == "later"


def test_a_lookup_on_the_event_loop_waits_for_no_lock_and_one_off_it_waits_as_configured(project):
    """The PRAGMA runs past Django's cursor, so past the loop lane's wrappers: it sets the same busy
    timeout they would (core.loop_lane.match_busy_timeout)."""
    if connection.vendor != "sqlite":
        pytest.skip("the memo and the loop lane are SQLite's")

    def busy_timeout() -> int:
        return connection.connection.execute("PRAGMA busy_timeout").fetchone()[0]

    resolve_key(project.secret)

    async def on_the_loop() -> int:
        with loop_lane.on_the_loop(1000):
            resolve_key(project.secret)
            return busy_timeout()

    assert asyncio.run(on_the_loop()) == 0
    resolve_key(project.secret)
    assert busy_timeout() == loop_lane.lock_wait_seconds() * 1000 > 0


def test_a_connection_that_writes_between_its_lookups_runs_no_pragma_for_them(project):
    """Serving writes, the memo would miss every time: the lookup right after this connection's own
    write reads without asking SQLite whether anything changed; the one after an unwritten stretch does."""
    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    pragmas: list[str] = []
    connection.ensure_connection()
    connection.connection.set_trace_callback(lambda sql: pragmas.append(sql) if "data_version" in sql else None)
    try:
        for name in ("one", "two", "three"):
            resolve_key(project.secret)
            ApiKey.objects.filter(project=project.project, kind=ApiKey.SECRET).update(name=name)
        assert pragmas == [] or len(pragmas) == 1  # at most the first lookup's, before any write
        pragmas.clear()
        resolve_key(project.secret)  # right after a write: no PRAGMA
        assert pragmas == []
        assert resolve_key(project.secret).name == "three"  # an unwritten stretch: it asks, and keeps
        assert len(pragmas) == 1
        with CaptureQueriesContext(connection) as queries:
            assert resolve_key(project.secret).name == "three"
        assert key_queries(queries) == [] and len(pragmas) == 2
    finally:
        connection.connection.set_trace_callback(None)


def test_a_revocation_by_another_process_is_seen_on_the_next_lookup(project):
    """SQLite's data_version counts the commits of other processes too (the CLI, a second server)."""
    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    for _ in range(3):
        assert resolve_key(project.secret).kind == ApiKey.SECRET
    revoke = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=20, isolation_level=None); "
        "c.execute(sys.argv[2], sys.argv[3:])"
    )
    subprocess.run(
        [sys.executable, "-c", revoke, connection.settings_dict["NAME"], REVOKE_BY_KIND, timezone.now().isoformat(),
         str(project.project.id), ApiKey.SECRET],
        check=True, timeout=60,
    )  # fmt: skip
    with pytest.raises(InvalidApiKey):
        resolve_key(project.secret)


def test_commits_around_a_checkpoint_that_empties_the_wal_are_seen(project):
    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    project_table, key_table = Project._meta.db_table, ApiKey._meta.db_table
    for _ in range(3):
        resolve_key(project.secret)
    other = another_connection()
    try:
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        other.execute(f"UPDATE {project_table} SET name = 'after the checkpoint' WHERE id = ?", [project.project.id])  # noqa: S608
        assert resolve_key(project.secret).project.name == "after the checkpoint"
        resolve_key(project.secret)
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        other.execute(
            f"UPDATE {key_table} SET revoked_at = ? WHERE project_id = ?",  # noqa: S608
            [timezone.now().isoformat(), project.project.id],
        )
    finally:
        other.close()
    with pytest.raises(InvalidApiKey):
        resolve_key(project.secret)


POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string"}},
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update", "delete")},
    "default_acl": "public",
}
DOCUMENTS = "/api/v1/collections/posts/documents"


def _secret_client(project):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    assert client.post("/api/v1/schema/collections", POSTS, format="json").status_code == 201
    return client


def test_the_document_stores_own_writes_leave_the_key_memo_in_force(project):
    """A stream of writes (create, update, delete, a batch) reads the key once: the store's statements
    write none of the tables the memo's rows come from (core.unchanged.KEPT_FROM)."""
    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    client = _secret_client(project)
    doc = client.post(DOCUMENTS, {"title": "first"}, format="json").json()["id"]
    # After the collection's set-up (writes of other kinds) the memo starts again: noted, then filled.
    assert client.post(DOCUMENTS, {"title": "second"}, format="json").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        assert client.post(DOCUMENTS, {"title": "a"}, format="json").status_code == 201
        assert client.patch(f"{DOCUMENTS}/{doc}", {"title": "b"}, format="json").status_code == 200
        batch = {"requests": [{"method": "POST", "path": DOCUMENTS, "body": {"title": "c"}}] * 3}
        assert client.post("/api/v1/batch", batch, format="json").status_code == 200
        assert client.delete(f"{DOCUMENTS}/{doc}").status_code in (200, 204)
        assert client.get(f"{DOCUMENTS}/{doc}").status_code == 404
    assert key_queries(queries) == []


def test_a_revocation_by_this_connection_between_two_writes_is_seen_on_the_next(project):
    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    client = _secret_client(project)
    for _ in range(2):
        assert client.post(DOCUMENTS, {"title": "kept"}, format="json").status_code == 201
    ApiKey.objects.filter(project=project.project, kind=ApiKey.SECRET).update(revoked_at=timezone.now())
    assert client.post(DOCUMENTS, {"title": "refused"}, format="json").status_code == 401


def test_a_rename_by_this_connection_inside_a_write_is_seen_on_the_next_request(project):
    """A kept table written in the same transaction as the store's writes, before them: the memo's count
    no longer matches when the store's block starts, so it is not carried past the change."""
    from basalt.core.unchanged import cursor_writing_none_of_the_kept_tables

    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    client = _secret_client(project)
    for _ in range(2):
        assert client.post(DOCUMENTS, {"title": "kept"}, format="json").status_code == 201
    with CaptureQueriesContext(connection) as queries:
        resolve_key(project.secret)
    assert key_queries(queries) == []  # the memo holds the key: the check below is not a cold read
    with transaction.atomic():
        Project.objects.filter(id=project.project.id).update(name="renamed with a write")
        with cursor_writing_none_of_the_kept_tables() as cursor:
            cursor.execute("UPDATE basalt_document SET version = version WHERE project_id = %s", [project.project.id])
    assert resolve_key(project.secret).project.name == "renamed with a write"


def test_the_keys_query_reads_the_kept_tables_only_and_no_document_store_trigger_writes_them():
    import re

    from basalt.core.unchanged import KEPT_FROM
    from basalt.projects import keys

    if connection.vendor != "sqlite":
        pytest.skip("the memo is SQLite's")
    assert set(re.findall(r"basalt_\w+", keys._sql("current"))) == set(KEPT_FROM)
    store_tables = (
        "basalt_document",
        "basalt_document_count",
        "basalt_change_seq",
        "basalt_change_log",
        "basalt_relation",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
        triggers = cursor.fetchall()
    on_the_store = [(name, sql) for name, table, sql in triggers if table in store_tables]
    assert on_the_store  # the kept counts' triggers, at least: the check below looks at something
    for name, sql in on_the_store:
        assert not any(table in sql for table in KEPT_FROM), name

"""Index builds survive concurrent writes (issue 8, item 10).

While a unique index is pending (no worker yet, or a build in progress) the write service
enforces it, so duplicates are refused and the build later meets none; a build that fails says
why and is retried by saving the collection's indexes again; a passing condition (a lock, a busy
SQLite file) is retried by the task instead of leaving the index `failed` for good.
"""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

from basalt.documents import indexes
from basalt.documents.models import CollectionIndex
from tests.documents.conftest import key_client
from tests.documents.test_concurrency import THREADS, _hammer

SCHEMA = "/api/v1/schema/collections"
DOCS = "/api/v1/collections/tags/documents"
TAGS = {
    "name": "tags",
    "fields": {"slug": {"type": "string"}, "title": {"type": "string"}},
    "indexes": [{"fields": ["slug"], "unique": True}],
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update")},
    "default_acl": "public",
}

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def no_worker(monkeypatch):
    """Builds are queued and nobody runs them (a server without its background worker)."""
    queued: list[int] = []
    monkeypatch.setattr(indexes, "schedule_index_build", queued.append)
    return queued


def _row() -> CollectionIndex:
    return CollectionIndex.objects.get(collection__name="tags", unique=True)


def _status(client) -> dict:
    return client.get(f"{SCHEMA}/tags").json()["indexes"][0]


def test_a_pending_unique_index_refuses_duplicates_and_then_builds(project, secret_client, no_worker):
    assert secret_client.post(SCHEMA, TAGS, format="json").status_code == 201
    assert _status(secret_client)["status"] == "pending" and no_worker
    pk = key_client(project.publishable)
    assert pk.post(DOCS, {"slug": "a"}, format="json").status_code == 201
    duplicate = pk.post(DOCS, {"slug": "a"}, format="json")
    assert duplicate.status_code == 409, duplicate.content
    assert duplicate.json()["error"] == {
        "code": "unique_violation",
        "message": "A document with this value already exists.",
        "details": {"slug": ["A document with this value already exists."]},
    }
    other = pk.post(DOCS, {"slug": "b"}, format="json").json()
    assert pk.patch(f"{DOCS}/{other['id']}", {"slug": "a"}, format="json").status_code == 409
    # The writes made while it was pending do not fail the build.
    assert indexes.build_index(_row().id) == CollectionIndex.READY
    assert pk.post(DOCS, {"slug": "a"}, format="json").status_code == 409  # now the index itself


@pytest.mark.postgres
def test_concurrent_duplicates_while_pending_on_postgres(project, secret_client, no_worker):
    """25 writers racing on one value while the unique index is not built: exactly one wins."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers")
    assert secret_client.post(SCHEMA, TAGS, format="json").status_code == 201

    def insert():
        return key_client(project.publishable).post(DOCS, {"slug": "race"}, format="json").status_code

    assert sorted(_hammer([insert] * THREADS)) == [201] + [409] * (THREADS - 1)
    assert indexes.build_index(_row().id) == CollectionIndex.READY


def test_a_failed_build_says_why_and_is_retried_by_saving_the_indexes(project, secret_client, eager_celery):
    plain = {**TAGS, "indexes": []}
    assert secret_client.post(SCHEMA, plain, format="json").status_code == 201
    first = secret_client.post(DOCS, {"slug": "dup"}, format="json").json()
    secret_client.post(DOCS, {"slug": "dup"}, format="json")
    response = secret_client.patch(f"{SCHEMA}/tags", {"indexes": TAGS["indexes"]}, format="json")
    assert response.status_code == 200
    failed = _status(secret_client)
    assert failed["status"] == "failed"
    assert "duplicate values for slug" in _row().error and "retry" in _row().error
    # Fix the data, save the same indexes again: the build runs again and succeeds.
    assert secret_client.patch(f"{DOCS}/{first['id']}", {"slug": "fixed"}, format="json").status_code == 200
    assert secret_client.patch(f"{SCHEMA}/tags", {"indexes": TAGS["indexes"]}, format="json").status_code == 200
    assert _status(secret_client)["status"] == "ready"
    assert _row().error == ""


def test_a_passing_database_error_is_retried_not_failed_for_good(project, secret_client, eager_celery, monkeypatch):
    """`database is locked` (a writer held SQLite's lock) or a deadlock: the task retries the build."""
    real_execute = indexes._execute
    seen: list[str] = []

    def flaky(sql, swallow=False):
        if sql.startswith("CREATE") and not seen:
            seen.append(CollectionIndex.objects.get(pk=_row().pk).status)
            raise OperationalError("database is locked")
        return real_execute(sql, swallow)

    monkeypatch.setattr(indexes, "_execute", flaky)
    assert secret_client.post(SCHEMA, TAGS, format="json").status_code == 201
    assert seen == ["building"]
    row = _row()
    assert row.status == CollectionIndex.READY, (row.status, row.error)


def test_a_build_that_keeps_meeting_passing_errors_gives_up_with_the_reason(
    project, secret_client, eager_celery, monkeypatch
):
    real_execute = indexes._execute

    def locked(sql, swallow=False):
        if sql.startswith("CREATE"):
            raise OperationalError("database is locked")
        return real_execute(sql, swallow)

    monkeypatch.setattr(indexes, "_execute", locked)
    assert secret_client.post(SCHEMA, TAGS, format="json").status_code == 201
    row = _row()
    assert row.status == CollectionIndex.FAILED
    assert row.error.startswith("Gave up after repeated attempts") and "database is locked" in row.error
    # Pending duplicates stay refused meanwhile: a failed unique index is still enforced by the service.
    pk = key_client(project.publishable)
    assert pk.post(DOCS, {"slug": "x"}, format="json").status_code == 201
    assert pk.post(DOCS, {"slug": "x"}, format="json").status_code == 409


def test_a_value_too_large_for_its_index_is_a_clear_400_not_an_outage(project, secret_client, eager_celery):
    """A btree entry past ~2.7 kB fails the insert or the build on PostgreSQL; it is refused up front."""
    import secrets

    assert secret_client.post(SCHEMA, TAGS, format="json").status_code == 201
    assert _status(secret_client)["status"] == "ready"
    huge = secrets.token_hex(2000)  # incompressible, 4000 bytes
    response = secret_client.post(DOCS, {"slug": huge}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_failed" and "slug" in response.json()["error"]["details"]
    doc = secret_client.post(DOCS, {"slug": "s", "title": huge}, format="json")  # an unindexed field may be long
    assert doc.status_code == 201
    assert secret_client.patch(f"{DOCS}/{doc.json()['id']}", {"slug": huge}, format="json").status_code == 400
    assert secret_client.get(f"{DOCS}/{doc.json()['id']}").json()["slug"] == "s"


def _index_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.get_constraints(cursor, "basalt_document"))


def test_deleting_a_project_drops_its_collections_indexes(make_project, eager_celery):
    """The partial indexes live on the shared documents table: left behind, every later insert of
    every project would still evaluate their predicates."""
    from basalt.documents import catalog
    from basalt.projects import services

    doomed, kept = make_project("Doomed"), make_project("Kept")
    for keys in (doomed, kept):
        catalog.create_collection(keys.project, TAGS)
    rows = {keys.project.pk: _row_of(keys) for keys in (doomed, kept)}
    for row in rows.values():
        assert indexes.build_index(row.id) == CollectionIndex.READY
    assert {row.db_name for row in rows.values()} <= _index_names()
    services.delete_project(doomed.owner, doomed.project.ref)
    names = _index_names()
    assert rows[doomed.project.pk].db_name not in names
    assert rows[kept.project.pk].db_name in names


def _row_of(keys) -> CollectionIndex:
    return CollectionIndex.objects.get(collection__project=keys.project, collection__name="tags", unique=True)

"""PostgreSQL imports check the documents' foreign keys once, as a set, where the role allows (restore_rows)."""

from __future__ import annotations

import io

import pytest
from django.db import connection, transaction

from tests.operations.conftest import key_client, seed_project


def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's session_replication_role")


def _role() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW session_replication_role")
        return cursor.fetchone()[0]


def _export(seeded) -> bytes:
    from basalt.operations import exporting

    sink = io.BytesIO()
    exporting.export_project(seeded.keys.project, sink)
    return sink.getvalue()


def _documents(keys) -> list[dict]:
    answer = key_client(keys.secret).get("/api/v1/collections/posts/documents", {"order": "created_at"})
    assert answer.status_code == 200, answer.content
    ids = ("id", "author", "cover", "related", "acl")  # these hold ids, new in the copy
    return [{k: v for k, v in d.items() if k not in ids} for d in answer.json()["results"]]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("allowed", [True, False], ids=["checked-as-a-set", "checked-per-row"])
def test_an_import_writes_the_same_documents_and_puts_the_triggers_back(make_project, monkeypatch, allowed):
    _postgres_only()
    from basalt.operations import importing, restore_rows

    monkeypatch.setattr(importing, "BATCH", 3)
    source = make_project("Source")
    seeded = seed_project(source)
    data = _export(seeded)
    if not allowed:
        monkeypatch.setattr(restore_rows, "allowed", lambda cursor: False)
    seen = {"during": set(), "after": None}
    real_skip, real_stream = restore_rows.skip_triggers, importing.Importer._stream_documents

    def skip(cursor):  # just before a COPY (no other statement may run on the connection during one)
        real_skip(cursor)
        seen["during"].add(_role())

    def stream(self, entry):
        real_stream(self, entry)
        seen["after"] = _role()

    monkeypatch.setattr(restore_rows, "skip_triggers", skip)
    monkeypatch.setattr(importing.Importer, "_stream_documents", stream)
    target = make_project("Target", owner=source.owner)
    result = importing.import_archive(target.project, lambda: io.BytesIO(data))
    assert result["counts"]["documents"] >= 12
    assert seen["during"] == ({"replica"} if allowed else set())
    assert seen["after"] == "origin"  # the rest of the import (relations, end) runs every trigger
    assert _documents(target) == _documents(source)
    assert _role() == "origin"


@pytest.mark.django_db
def test_parents_of_another_project_are_not_taken_for_this_ones(make_project):
    _postgres_only()
    from basalt.documents.models import Collection
    from basalt.operations import restore_rows

    mine, other = make_project("Mine"), make_project("Other")
    ours = list(Collection.objects.filter(project=mine.project).values_list("pk", flat=True))
    theirs = Collection.objects.filter(project=other.project).values_list("pk", flat=True)[0]
    with transaction.atomic(), connection.cursor() as cursor:
        assert restore_rows.lock_parents(cursor, mine.project.pk, ours)
        assert not restore_rows.lock_parents(cursor, mine.project.pk, [*ours, theirs])
        assert not restore_rows.lock_parents(cursor, mine.project.pk, [*ours, 10**12])


@pytest.mark.django_db
def test_a_role_without_the_privilege_or_a_table_with_its_own_trigger_keeps_per_row_checks():
    _postgres_only()
    from basalt.core.ids import random_id
    from basalt.operations import restore_rows

    role = f"basalt_limited_{random_id(8)}"
    with connection.cursor() as cursor:
        assert restore_rows.allowed(cursor)  # the tests' superuser
        cursor.execute(f"CREATE ROLE {role} NOLOGIN")
        try:
            with transaction.atomic():
                cursor.execute(f"SET LOCAL ROLE {role}")
                assert not restore_rows.allowed(cursor)
                cursor.execute("RESET ROLE")
            with transaction.atomic():
                cursor.execute(
                    "CREATE FUNCTION pg_temp.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'"
                )
                cursor.execute(
                    "CREATE TRIGGER basalt_test_noop BEFORE INSERT ON basalt_document "
                    "FOR EACH ROW EXECUTE FUNCTION pg_temp.noop()"
                )
                assert not restore_rows.allowed(cursor)
                transaction.set_rollback(True)
        finally:
            cursor.execute(f"DROP ROLE {role}")
        assert restore_rows.allowed(cursor)

"""Removing a field makes its old values unreachable for good (issue 8, item 8).

A background job (documents/purge.py) erases them from documents, relation edges and the change
log's before/after copies in bounded batches; until it has, the name cannot be declared again,
so a re-added field (another type, no protection, a unique index) never meets old values.
"""

from __future__ import annotations

import pytest
from django.db import connection

from basalt.documents import purge
from basalt.documents.models import ChangeLogEntry, Document, FieldPurge, Relation
from tests.documents.conftest import key_client

SCHEMA = "/api/v1/schema/collections"
DOCS = "/api/v1/collections/people/documents"
PEOPLE = {
    "name": "people",
    "fields": {
        "name": {"type": "string"},
        "ssn": {"type": "string"},
        "friends": {"type": "relation", "to": "people"},
    },
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update")},
    "protected_fields": {"*": ["ssn"]},
    "default_acl": "public",
}


@pytest.fixture
def people(project, secret_client):
    assert secret_client.post(SCHEMA, PEOPLE, format="json").status_code == 201
    return project


def _patch_schema(client, body):
    return client.patch(f"{SCHEMA}/people", body, format="json")


def _remove_ssn(client):
    response = _patch_schema(client, {"fields": {"ssn": None}, "protected_fields": {}})
    assert response.status_code == 200, response.content


def _raw_data(doc_id: str) -> dict:
    return Document.objects.get(pk=doc_id).data


def _logged_keys(project) -> set[str]:
    keys: set[str] = set()
    for before, after in ChangeLogEntry.objects.filter(project=project.project, collection="people").values_list(
        "before", "after"
    ):
        for copy in (before, after):
            keys |= set(copy or {})
    return keys


# Committed writes: on PostgreSQL a change-log row gets its seq (what the purge walks) at commit.
@pytest.mark.django_db(transaction=True)
def test_a_removed_protected_field_re_added_open_shows_no_old_value(
    people, secret_client, eager_celery, django_capture_on_commit_callbacks
):
    """The report: `ssn` was protected, removed, re-added without protection: the old value stays gone."""
    created = secret_client.post(DOCS, {"name": "ann", "ssn": "078-05-1120"}, format="json").json()
    secret_client.patch(f"{DOCS}/{created['id']}", {"name": "ann b"}, format="json")  # a before/after pair
    assert "ssn" in _logged_keys(people)
    with django_capture_on_commit_callbacks(execute=True):
        _remove_ssn(secret_client)
    assert "ssn" not in _raw_data(created["id"])
    assert "ssn" not in _logged_keys(people)
    assert not FieldPurge.objects.exists()

    # Re-added with another type and no protection: nothing old to read, filter or break on.
    response = _patch_schema(secret_client, {"fields": {"ssn": {"type": "number"}}})
    assert response.status_code == 200, response.content
    pk = key_client(people.publishable)
    assert "ssn" not in pk.get(f"{DOCS}/{created['id']}").json()
    assert "ssn" not in secret_client.get(f"{DOCS}/{created['id']}").json()
    found = pk.get(DOCS, {"where": '{"ssn": {"$exists": true}}', "count": "true"}).json()
    assert found["count"] == 0 and found["results"] == []
    updated = secret_client.patch(f"{DOCS}/{created['id']}", {"ssn": {"__op": "increment", "by": 1}}, format="json")
    assert updated.status_code == 200 and updated.json()["ssn"] == 1


@pytest.mark.django_db
def test_re_adding_a_name_is_refused_until_its_values_are_erased(people, secret_client, eager_celery):
    """While the purge has not run (no worker yet), declaring the name again is a 409 that says why."""
    created = secret_client.post(DOCS, {"name": "ann", "ssn": "078-05-1120"}, format="json").json()
    _remove_ssn(secret_client)  # a TestCase transaction: the on-commit purge has not run
    response = _patch_schema(secret_client, {"fields": {"ssn": {"type": "string"}}})
    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "conflict"
    assert "fields.ssn" in response.json()["error"]["details"]
    assert "ssn" not in secret_client.get(f"{DOCS}/{created['id']}").json()  # hidden meanwhile
    # The 409 queued the purge again (eager here: it ran); now the name is free.
    assert not FieldPurge.objects.exists()
    assert "ssn" not in _raw_data(created["id"])
    assert _patch_schema(secret_client, {"fields": {"ssn": {"type": "string"}}}).status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_unique_index_on_a_re_added_name_ignores_old_values(people, secret_client, eager_celery):
    """The old value neither fails the new unique index's build nor conflicts with a new document."""
    secret_client.post(DOCS, {"name": "ann", "ssn": "same"}, format="json")
    secret_client.post(DOCS, {"name": "bob", "ssn": "same"}, format="json")
    _remove_ssn(secret_client)  # committed: the purge ran after the commit
    response = _patch_schema(
        secret_client, {"fields": {"ssn": {"type": "string"}}, "indexes": [{"fields": ["ssn"], "unique": True}]}
    )
    assert response.status_code == 200, response.content
    assert secret_client.get(f"{SCHEMA}/people").json()["indexes"][0]["status"] == "ready"
    assert secret_client.post(DOCS, {"name": "bob", "ssn": "same"}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_purge_runs_in_bounded_batches_and_resumes(people, secret_client, eager_celery, monkeypatch):
    """Small batches and runs: documents, relation edges and log copies all go, a run at a time."""
    monkeypatch.setattr(purge, "BATCH", 2)
    monkeypatch.setattr(purge, "BATCHES_PER_RUN", 3)
    ids = [secret_client.post(DOCS, {"name": f"p{i}", "ssn": str(i)}, format="json").json()["id"] for i in range(7)]
    for doc_id in ids[1:]:
        add = {"friends": {"__op": "add_relation", "ids": [ids[0]]}}
        assert secret_client.patch(f"{DOCS}/{doc_id}", add, format="json").status_code == 200
    assert Relation.objects.filter(field="friends").count() == 6
    steps = []
    real_step = purge.step
    monkeypatch.setattr(purge, "step", lambda purge_id: steps.append(purge_id) or real_step(purge_id))
    response = _patch_schema(secret_client, {"fields": {"ssn": None, "friends": None}, "protected_fields": {}})
    assert response.status_code == 200, response.content
    assert not FieldPurge.objects.exists()
    assert len(steps) > 2 * purge.BATCHES_PER_RUN  # it took several runs, each bounded
    assert all("ssn" not in _raw_data(doc_id) for doc_id in ids)
    assert not Relation.objects.filter(field="friends").exists()
    assert "ssn" not in _logged_keys(people)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM basalt_document WHERE collection_id IS NOT NULL")
        assert cursor.fetchone()[0] >= 7  # documents themselves untouched
    assert {d["name"] for d in secret_client.get(DOCS).json()["results"]} == {f"p{i}" for i in range(7)}

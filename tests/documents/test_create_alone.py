"""A create outside any transaction is one statement on PostgreSQL (the document and its numbered
change-log row, committing alone): it must keep every guarantee of the transaction it replaced."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection

from basalt.documents import changefeed
from basalt.documents.models import Document
from tests.documents.test_changelog_batch import DOCS, _log, _wait_for_indexes

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes in IMMEDIATE transactions; the one-statement create is PostgreSQL's")


def test_a_create_refused_by_a_unique_index_leaves_neither_document_nor_change_row(project, pk):
    _wait_for_indexes(project)
    first = pk.post(DOCS, {"title": "a", "slug": "s"}, format="json")
    assert first.status_code == 201, first.content
    clash = pk.post(DOCS, {"title": "b", "slug": "s"}, format="json")
    assert clash.status_code == 409, clash.content
    assert clash.json()["error"]["code"] == "unique_violation" and "slug" in clash.json()["error"]["details"]
    assert [(row.seq, row.document_id) for row in _log(project)] == [(1, first.json()["id"])]
    assert list(Document.objects.filter(project=project.project).values_list("id", flat=True)) == [first.json()["id"]]
    after = pk.post(DOCS, {"title": "c", "slug": "t"}, format="json")
    assert [row.seq for row in _log(project)] == [1, 2] and after.status_code == 201


def test_a_create_is_announced_once_numbered_and_only_after_it_is_visible_to_others(project, pk):
    _wait_for_indexes(project)  # a unique index still pending is checked in a transaction instead
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    heard: list[tuple[changefeed.Change, bool]] = []

    def listener(change: changefeed.Change) -> None:
        with psycopg.connect(**params) as other:
            found = other.execute("SELECT 1 FROM basalt_document WHERE id = %s", [change.document_id]).fetchone()
        heard.append((change, found is not None))

    changefeed.register(listener)
    try:
        made = [pk.post(DOCS, {"title": f"t{n}"}, format="json").json() for n in range(3)]
    finally:
        changefeed.unregister(listener)
    assert [(change.seq, change.type, change.document_id, visible) for change, visible in heard] == [
        (n + 1, "create", doc["id"], True) for n, doc in enumerate(made)
    ]
    assert [change.after for change, _ in heard] == [
        {key: doc[key] for key in change.after} for (change, _), doc in zip(heard, made, strict=True)
    ]
    assert heard[0][0].after["title"] == "t0" and heard[0][0].before is None

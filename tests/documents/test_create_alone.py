"""A create outside any transaction is one statement on PostgreSQL (the document and its numbered
change-log row, committing alone), and an update's write and change-log row are one statement: they
must keep every guarantee of the statements they replaced."""

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
    # An update is its transaction's last statement together with its change-log row: a clash
    # fails both, and the document keeps its value.
    moved = pk.patch(f"{DOCS}/{after.json()['id']}", {"slug": "s"}, format="json")
    assert moved.status_code == 409 and "slug" in moved.json()["error"]["details"]
    assert [row.seq for row in _log(project)] == [1, 2]
    assert pk.get(f"{DOCS}/{after.json()['id']}").json()["slug"] == "t"
    renamed = pk.patch(f"{DOCS}/{after.json()['id']}", {"slug": "u"}, format="json")
    assert renamed.status_code == 200
    last = _log(project)[-1]
    assert (last.seq, last.type, last.before["slug"], last.after["slug"]) == (3, "update", "t", "u")


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


def _bump_elsewhere(doc_id: str, by: int) -> None:
    """Another writer commits a change of the document (its own connection)."""
    with psycopg.connect(_dsn(), autocommit=True) as other:
        other.execute(
            "UPDATE basalt_document SET data = jsonb_set(data, '{score}', to_jsonb((data->>'score')::int + %s)), "
            "version = version + 1 WHERE id = %s",
            [by, doc_id],
        )


def _dsn() -> str:
    settings = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )


def test_an_update_outside_a_transaction_reads_unlocked_and_writes_once_in_one_statement(project, pk):
    from django.test.utils import CaptureQueriesContext

    _wait_for_indexes(project)  # a unique index still building is checked under the row lock
    made = pk.post(DOCS, {"title": "a", "score": 1}, format="json").json()
    with CaptureQueriesContext(connection) as queries:
        response = pk.patch(f"{DOCS}/{made['id']}", {"score": {"__op": "increment", "by": 2}}, format="json")
    assert response.status_code == 200 and response.json()["score"] == 3, response.content
    statements = [q["sql"] for q in queries.captured_queries if "basalt_document" in q["sql"]]
    assert len(statements) == 2 and "FOR UPDATE" not in statements[0], statements
    assert "UPDATE basalt_document" in statements[1] and "basalt_log_change" in statements[1]
    rows = _log(project)
    assert [(row.seq, row.type) for row in rows] == [(1, "create"), (2, "update")]
    assert rows[1].before["score"] == 1 and rows[1].after["score"] == 3
    # The checks of the locked path hold on this one: a stale If-Match, a caller who may not
    # write, a bad value; none writes anything.
    stale = pk.patch(f"{DOCS}/{made['id']}", {"score": 9}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412, stale.content
    locked = pk.post(DOCS, {"title": "b", "acl": {"*": {"read": True}}}, format="json").json()
    assert pk.patch(f"{DOCS}/{locked['id']}", {"score": 9}, format="json").status_code == 403
    assert pk.patch(f"{DOCS}/{made['id']}", {"score": "x"}, format="json").status_code == 400
    assert pk.patch(f"{DOCS}/{made['id']}", {"score": 7}, format="json", HTTP_IF_MATCH='"2"').status_code == 200
    assert [(row.type, row.document_id) for row in _log(project)[2:]] == [
        ("create", locked["id"]),
        ("update", made["id"]),
    ]
    assert pk.get(f"{DOCS}/{made['id']}").json()["score"] == 7


def test_an_update_whose_document_moved_after_its_read_reads_again_and_writes_nothing_twice(project, pk, monkeypatch):
    """A writer committing between the unlocked read and the write: the write finds another version,
    writes nothing, reads again; after OPTIMISTIC_UPDATE_TRIES such misses the row lock is taken.
    The increment is applied once, to the latest value, with one change-log row."""
    from basalt.documents import services, store

    real = store.update_logged_alone
    _wait_for_indexes(project)
    made = pk.post(DOCS, {"title": "a", "score": 1}, format="json").json()
    for misses, expected in ((1, 1 + 10 + 2), (services.OPTIMISTIC_UPDATE_TRIES, 13 + 10 * 2 + 2)):
        calls = []

        def moved_first(*args, _misses=misses, _calls=calls, **kwargs):
            _calls.append(1)
            if len(_calls) <= _misses:
                _bump_elsewhere(made["id"], 10)
            return real(*args, **kwargs)

        monkeypatch.setattr(store, "update_logged_alone", moved_first)
        response = pk.patch(f"{DOCS}/{made['id']}", {"score": {"__op": "increment", "by": 2}}, format="json")
        assert response.status_code == 200 and response.json()["score"] == expected, response.content
        assert pk.get(f"{DOCS}/{made['id']}").json()["score"] == expected
        assert len(calls) == min(misses + 1, services.OPTIMISTIC_UPDATE_TRIES)
    updates = [row for row in _log(project) if row.type == "update"]
    assert [row.after["score"] for row in updates] == [13, 35]  # the other writer logs nothing here


def test_a_delete_outside_a_transaction_is_checked_on_an_unlocked_read_and_written_once(project, pk, monkeypatch):
    """The delete's counterpart of the update above: two statements, the checks unchanged, and a
    version moved after the read makes it read again (the change-log row carries the latest)."""
    from django.test.utils import CaptureQueriesContext

    from basalt.documents import store

    _wait_for_indexes(project)
    made = pk.post(DOCS, {"title": "a", "score": 1}, format="json").json()
    kept = pk.post(DOCS, {"title": "b", "acl": {"*": {"read": True}}}, format="json").json()
    assert pk.delete(f"{DOCS}/{kept['id']}").status_code == 403
    assert pk.delete(f"{DOCS}/{made['id']}", HTTP_IF_MATCH='"7"').status_code == 412
    assert pk.delete(f"{DOCS}/nope").status_code == 404
    real, calls = store.delete_logged_alone, []

    def moved_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            _bump_elsewhere(made["id"], 10)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "delete_logged_alone", moved_first)
    with CaptureQueriesContext(connection) as queries:
        assert pk.delete(f"{DOCS}/{made['id']}").status_code == 204
    statements = [q["sql"] for q in queries.captured_queries if "basalt_document" in q["sql"]]
    assert len(statements) == 4 and not any("FOR UPDATE" in sql for sql in statements), statements
    assert len(calls) == 2 and pk.get(f"{DOCS}/{made['id']}").status_code == 404
    deletes = [row for row in _log(project) if row.type == "delete"]
    assert [(row.document_id, row.before["score"], row.after) for row in deletes] == [(made["id"], 11, None)]
    assert pk.get(f"{DOCS}/{kept['id']}").status_code == 200

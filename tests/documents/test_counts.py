"""Counts are the documents the caller may read, exactly, on both databases (API.md §3).

On PostgreSQL a reader's count is the public documents' count plus the others it may read
(`Compiler.count`), the public part answered from the partial index `doc_public` alone once the
visibility map is set; where autovacuum is off Basalt vacuums when autovacuum would have
(`statistics._vacuum_due`). Whichever way it is counted, a count equals the rows a find returns,
after ACL changes, updates and deletes, and a revoked grant is gone on the next request.
"""

from __future__ import annotations

import json

import pytest
from django.db import connection

from basalt.core.caller import Caller
from basalt.documents import finding, services, statistics
from basalt.documents.models import Collection
from basalt.documents.query import parse_query, run_count
from basalt.documents.query.compiler import Compiler
from basalt.documents.query.dialects import current_dialect
from tests.documents.conftest import key_client

DOCS = "/api/v1/collections/notes/documents"
NOTES = {
    "name": "notes",
    "fields": {"n": {"type": "number"}, "score": {"type": "number"}},
    "indexes": [{"fields": ["-score"]}],
    "permissions": {
        **{op: ["*"] for op in ("get", "find", "count")},
        **{op: ["authenticated"] for op in ("create", "update", "delete")},
    },
    "default_acl": "owner_write_public_read",
}
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'")


def _signed_in(project, email: str):
    anon = key_client(project.publishable)
    made = anon.post("/api/v1/auth/signup", {"email": email, "password": "a long passphrase 42"}, format="json")
    assert made.status_code == 201, made.content
    client = key_client(project.publishable)
    client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION="Bearer " + made.json()["access_token"])
    return client, made.json()["user"]["id"]


def _count(client, where: dict | None = None, page: bool = False) -> int:
    # `limit=0` is the pure count (the Parse face's form); `limit=1` a page with its count (the SDKs').
    params = {"count": "true", "limit": 1 if page else 0}
    if where is not None:
        params["where"] = json.dumps(where)
    response = client.get(DOCS, params)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def _visible(client, where: dict | None = None) -> set[int]:
    params = {"limit": 1000, **({"where": json.dumps(where)} if where is not None else {})}
    response = client.get(DOCS, params)
    assert response.status_code == 200, response.content
    return {doc["n"] for doc in response.json()["results"]}


def _assert_counts_are_visible_rows(clients: dict, expected: dict[str, set[int]]) -> None:
    for name, client in clients.items():
        assert _visible(client) == expected[name], name
        for where in (None, {"score": {"$gt": 2}}, {"score": {"$lte": 2}}, {"n": {"$in": [1, 5, 7]}}):
            visible = len(_visible(client, where))
            assert _count(client, where) == visible, (name, where)
            assert _count(client, where, page=True) == visible, (name, where)


@pytest.mark.django_db
def test_counts_equal_the_readable_documents_through_acl_changes_updates_and_deletes(project, secret_client):
    assert secret_client.post("/api/v1/schema/collections", NOTES, format="json").status_code == 201
    alice, alice_id = _signed_in(project, "alice@example.com")
    bob, bob_id = _signed_in(project, "bob@example.com")
    anon, secret = key_client(project.publishable), key_client(project.secret)

    def make(client, n: int, acl: dict | None = None) -> str:
        body = {"n": n, "score": n % 5, **({"acl": acl} if acl is not None else {})}
        response = client.post(DOCS, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    ids = {n: make(alice, n) for n in range(1, 5)}  # public, alice writes
    ids[5] = make(alice, 5, {alice_id: {"read": True, "write": True}})  # alice only
    ids[6] = make(alice, 6, {alice_id: {"read": True, "write": True}, bob_id: {"read": True}})  # shared with bob
    # Public and naming bob: counted once, not once as public and again as bob's.
    ids[7] = make(alice, 7, {"*": {"read": True}, bob_id: {"read": True}, alice_id: {"write": True}})
    ids[8] = make(secret, 8, {"authenticated": {"read": True}})  # any signed-in user
    ids[9] = make(secret, 9, {})  # the secret key only
    ids[10] = make(secret, 10, {"role:mod": {"read": True}})
    clients = {"anon": anon, "alice": alice, "bob": bob, "secret": secret}
    public = {1, 2, 3, 4, 7}
    expected = {
        "anon": public,
        "alice": public | {5, 6, 8},
        "bob": public | {6, 8},
        "secret": set(range(1, 11)),
    }
    _assert_counts_are_visible_rows(clients, expected)

    # Revocation: alice takes bob off her shared note; his next request no longer counts it.
    unshared = alice.patch(f"{DOCS}/{ids[6]}", {"acl": {alice_id: {"read": True, "write": True}}}, format="json")
    assert unshared.status_code == 200, unshared.content
    assert _count(bob) == len(expected["bob"]) - 1
    expected["bob"] = expected["bob"] - {6}
    # A public note made private, a private one made public, scores moved, a public note deleted.
    private = {"acl": {alice_id: {"read": True, "write": True}}}
    assert alice.patch(f"{DOCS}/{ids[1]}", private, format="json").status_code == 200
    shown = {"acl": {"*": {"read": True}, alice_id: {"read": True, "write": True}}}
    assert alice.patch(f"{DOCS}/{ids[5]}", shown, format="json").status_code == 200
    assert alice.patch(f"{DOCS}/{ids[2]}", {"score": 4}, format="json").status_code == 200
    assert alice.delete(f"{DOCS}/{ids[3]}").status_code == 204
    public = {2, 4, 5, 7}
    expected = {
        "anon": public,
        "alice": public | {1, 6, 8},
        "bob": public | {8},
        "secret": set(range(1, 11)) - {3},
    }
    _assert_counts_are_visible_rows(clients, expected)


@pytest.mark.django_db
def test_a_role_grant_counts_while_held_and_not_on_the_next_request_after(project, secret_client):
    assert secret_client.post("/api/v1/schema/collections", NOTES, format="json").status_code == 201
    secret = Caller(project=project.project, key_kind="secret", key_id="k")
    for n, acl in enumerate(({"*": {"read": True}}, {"role:mod": {"read": True}}, {"role:mod": {"read": True}})):
        services.create_document(secret, "notes", {"n": n, "score": n, "acl": acl})
    query = {"count": True, "limit": 0}

    def counted(roles: frozenset[str]) -> int:
        caller = Caller(project=project.project, key_kind="publishable", key_id="k", user_id="u1", roles=roles)
        return finding.find_documents(caller, "notes", query)["count"]

    assert counted(frozenset({"mod"})) == 3
    assert counted(frozenset()) == 1  # the role's membership is read per request: gone, not counted


@postgres_only
@pytest.mark.django_db
def test_a_readers_count_is_public_plus_the_rest_and_the_secret_keys_is_one_filter(project, secret_client):
    assert secret_client.post("/api/v1/schema/collections", NOTES, format="json").status_code == 201
    collection = Collection.objects.get(project=project.project, name="notes")
    compiler = Compiler(current_dialect(), collection)
    query = parse_query(collection, {"where": {"score": {"$gt": 1}}}, {})
    reader_sql, _ = compiler.count(query, frozenset({"*", "authenticated", "u1"}))
    assert reader_sql.count("SELECT COUNT(*)") == 2
    assert "read_principals ? '*'" in reader_sql and "NOT (read_principals ? '*')" in reader_sql
    anonymous_sql, _ = compiler.count(query, frozenset({"*"}))
    assert anonymous_sql.count("SELECT COUNT(*)") == 1 and "read_principals ? '*'" in anonymous_sql
    secret_sql, _ = compiler.count(query, None)
    assert "read_principals" not in secret_sql
    # A reader without `*` (never given by a key, but the compiler's contract) keeps one filter.
    only_sql, _ = compiler.count(query, frozenset({"u1"}))
    assert only_sql.count("SELECT COUNT(*)") == 1 and "?|" in only_sql


def _seed(project_id: int, collection_id: int, public: int, private: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            "SELECT 'seed' || g, %s, %s, jsonb_build_object('n', g, 'score', g %% 100), '{}'::jsonb, "
            "CASE WHEN g <= %s THEN '[\"*\", \"owner\"]'::jsonb ELSE jsonb_build_array('u' || (g %% 7)) END, "
            "'[]'::jsonb, '', now(), now(), 1 FROM generate_series(1, %s) g",
            [project_id, collection_id, public, public + private],
        )


def _vacuumed_notes(project, secret_client, monkeypatch) -> Collection:
    """`notes` with 2,000 public documents, the table vacuumed, and Basalt told autovacuum is off
    (whatever this server's setting)."""
    monkeypatch.setattr(statistics, "_autovacuum_off", lambda: True)
    assert secret_client.post("/api/v1/schema/collections", NOTES, format="json").status_code == 201
    collection = Collection.objects.get(project=project.project, name="notes")
    _seed(project.project.pk, collection.pk, public=2000, private=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) basalt_document")
    return collection


def _update_every(cursor, collection, step: int, score: str) -> None:
    """Set `score` on every `step`-th document of the collection (by its `n`)."""
    cursor.execute(
        "UPDATE basalt_document SET data = jsonb_set(data, '{score}', %s::jsonb) WHERE collection_id = %s "
        "AND (data->>'n')::int %% %s = 0",
        [score, collection.pk, step],
    )


def _all_pages_visible() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE oid = 'basalt_document'::regclass")
        pages, visible = cursor.fetchone()
    return visible == pages


def _explain(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
        return "\n".join(line for (line,) in cursor.fetchall())


def _count_of(collection, principals, where: dict | None = None) -> int:
    raw = {"where": where} if where is not None else {}
    return run_count(collection, parse_query(collection, raw, {}), principals)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_readers_count_of_all_reads_the_public_index_alone_once_vacuumed(project, secret_client):
    """The public part is an index-only scan of `doc_public` that visits no row once the visibility
    map is set; the count stays exact before the vacuum, and after updates and deletes."""
    assert secret_client.post("/api/v1/schema/collections", NOTES, format="json").status_code == 201
    collection = Collection.objects.get(project=project.project, name="notes")
    _seed(project.project.pk, collection.pk, public=3000, private=700)
    reader = frozenset({"*", "authenticated", "u3"})
    # The seed's rows as the Python rule sees them: g -> (score, read list).
    rows = {g: (g % 100, ["*", "owner"] if g <= 3000 else [f"u{g % 7}"]) for g in range(1, 3701)}

    def expected(principals: frozenset[str] | None, least: int = 0) -> int:
        return sum(
            1 for score, read in rows.values() if score >= least and (principals is None or principals & set(read))
        )

    def assert_exact() -> None:
        for principals in (reader, frozenset({"*"}), frozenset({"*", "u0"}), None):
            assert _count_of(collection, principals) == expected(principals), principals
            assert _count_of(collection, principals, {"score": {"$gte": 50}}) == expected(principals, 50)

    assert_exact()  # before any vacuum: every page is read from the table
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) basalt_document")
    sql, params = Compiler(current_dialect(), collection).count(parse_query(collection, {}, {}), reader)
    plan = _explain(sql, params)
    assert "Index Only Scan using doc_public" in plan, plan
    public_scan = plan[plan.index("Index Only Scan using doc_public") :]
    assert public_scan[public_scan.index("Heap Fetches:") :].startswith("Heap Fetches: 0\n"), plan
    assert_exact()
    # Pages changed since the vacuum are read from the table: still exact.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE basalt_document SET read_principals = '[\"owner\"]' WHERE collection_id = %s "
            "AND id IN ('seed1', 'seed2', 'seed3')",
            [collection.pk],
        )
        cursor.execute("DELETE FROM basalt_document WHERE collection_id = %s AND id = 'seed4'", [collection.pk])
        cursor.execute(
            "UPDATE basalt_document SET read_principals = '[\"*\"]' WHERE collection_id = %s AND id = 'seed3003'",
            [collection.pk],
        )
    for g in (1, 2, 3):
        rows[g] = (rows[g][0], ["owner"])
    del rows[4]
    rows[3003] = (rows[3003][0], ["*"])
    assert_exact()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_where_autovacuum_is_off_a_statistics_check_vacuums_after_updates_and_deletes(
    project, secret_client, monkeypatch
):
    """Updates and deletes leave pages not all-visible, which only a vacuum marks again: without
    autovacuum, Basalt's own check vacuums once the table changed as much as autovacuum waits for."""
    from django.core.cache import cache

    collection = _vacuumed_notes(project, secret_client, monkeypatch)
    with connection.cursor() as cursor:
        _update_every(cursor, collection, 2, "1")
        cursor.execute(
            "DELETE FROM basalt_document WHERE collection_id = %s AND (data->>'n')::int %% 10 = 1", [collection.pk]
        )
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:  # the flush happens as the statement before ends
        cursor.execute("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'basalt_document'::regclass")
        assert cursor.fetchone()[0] >= 1200
        assert statistics._vacuum_due()
    cache.delete(statistics._key("analyze"))
    assert statistics.refresh_if_grown(collection.pk, look_again=False) is True
    assert _all_pages_visible()
    assert not statistics._vacuum_due()
    sql, params = Compiler(current_dialect(), collection).count(parse_query(collection, {}, {}), frozenset({"*"}))
    assert "Heap Fetches: 0" in _explain(sql, params)
    assert _count_of(collection, frozenset({"*"})) == 1800
    # The end of a burst, short of autovacuum's bar: looked at again after a pause, and vacuumed then.
    with connection.cursor() as cursor:
        _update_every(cursor, collection, 20, "2")
        cursor.execute("SELECT pg_stat_force_next_flush()")
    later: list[int] = []
    monkeypatch.setattr(statistics, "_look_again_later", lambda collection_id, seconds: later.append(collection_id))
    assert not statistics._vacuum_due(collection.pk, look_again=True)
    assert later == [collection.pk]
    cache.delete(statistics._key("analyze"))
    assert statistics.refresh_if_grown(collection.pk, look_again=False) is True
    assert _all_pages_visible()


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_where_autovacuum_is_off_counts_asked_after_a_few_writes_get_the_table_vacuumed(
    project, secret_client, monkeypatch, eager_celery
):
    """Writes followed at once by counts: the counts' own check vacuums past VACUUM_DEAD_ROWS, so
    the index-only scans stop reading the written pages from the table."""
    from django.core.cache import cache

    collection = _vacuumed_notes(project, secret_client, monkeypatch)
    with connection.cursor() as cursor:
        _update_every(cursor, collection, 25, "3")
        cursor.execute("SELECT pg_stat_force_next_flush()")
    sql, params = Compiler(current_dialect(), collection).count(parse_query(collection, {}, {}), frozenset({"*"}))
    assert "Heap Fetches: 0" not in _explain(sql, params)  # the updated rows' pages
    cache.delete(statistics._key("analyze"))
    anon = key_client(project.publishable)
    for _ in range(statistics.PG_COUNT_CHECK_EVERY):
        assert _count(anon) == 2000
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT vacuum_count, n_dead_tup FROM pg_stat_user_tables WHERE relid = 'basalt_document'::regclass"
        )
        vacuums, dead = cursor.fetchone()
    assert vacuums >= 2 and dead == 0
    assert "Heap Fetches: 0" in _explain(sql, params)

"""What callers rely on: ACL filtering in SQL, protected fields, geo, relations, cursors, query cost."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from basalt.core.errors import InvalidQuery
from basalt.documents.models import Document
from basalt.documents.query import budget, fetch_by_ids, parse_query, run_count, run_find
from basalt.documents.query.compiler import Compiler

from .conftest import LIMITS, add, relate

pytestmark = pytest.mark.django_db


def ids(result) -> list[str]:
    return [row.id for row in result.rows]


def find(coll, raw, principals=None, hidden=frozenset()):
    return run_find(coll, parse_query(coll, raw, LIMITS), principals, hidden)


def test_acl_is_filtered_in_sql_and_counts_are_true(coll):
    public = add(coll, {"score": 1}, readers=["*"])
    mine = add(coll, {"score": 2}, readers=["u1"])
    role = add(coll, {"score": 3}, readers=["role:mod"])
    add(coll, {"score": 4}, readers=[])
    raw = {"order": "score", "count": True}
    assert ids(find(coll, raw, frozenset({"*"}))) == [public.id]
    assert ids(find(coll, raw, frozenset({"*", "u1", "role:mod"}))) == [public.id, mine.id, role.id]
    assert find(coll, raw, frozenset({"*", "u1"})).count == 2
    assert find(coll, raw, frozenset()).rows == []
    assert find(coll, raw, None).count == 4  # secret key
    assert run_count(coll, parse_query(coll, {"where": {"score": {"$gte": 2}}}, LIMITS), frozenset({"u1"})) == 1
    # A full page for the reader even when unreadable documents sit in between.
    assert ids(find(coll, {"order": "score", "limit": 2}, frozenset({"*", "role:mod"}))) == [public.id, role.id]


def test_principal_names_are_values_not_sql(coll):
    add(coll, {}, readers=["*"])
    assert find(coll, {}, frozenset({"') OR 1=1 --", "x' OR '1'='1"})).rows == []


@pytest.mark.parametrize(
    "raw",
    [
        {"where": {"secret": "x"}},
        {"where": {"$or": [{"title": "a"}, {"secret": {"$regex": "^a"}}]}},
        {"where": {"$nor": [{"$and": [{"secret": {"$exists": True}}]}]}},
        {"where": {"meta.inner": 1}},
        {"order": "-secret"},
    ],
)
def test_hidden_fields_cannot_be_filtered_or_sorted(coll, raw):
    add(coll, {"secret": "x", "meta": {"inner": 1}})
    with pytest.raises(InvalidQuery) as caught:
        find(coll, raw, frozenset({"*"}), hidden=frozenset({"secret", "meta"}))
    assert "protected" not in caught.value.message  # reads like an unknown field: nothing leaks
    with pytest.raises(InvalidQuery):
        run_count(coll, parse_query(coll, raw, LIMITS), frozenset({"*"}), frozenset({"secret", "meta"}))
    find(coll, raw, None)  # allowed for those who may read it


def test_near_sorts_by_distance_and_pages(coll):
    paris = add(coll, {"place": {"lat": 48.8566, "lng": 2.3522}})
    versailles = add(coll, {"place": {"lat": 48.8049, "lng": 2.1204}})
    london = add(coll, {"place": {"lat": 51.5074, "lng": -0.1278}})
    add(coll, {"title": "nowhere"})
    near = {"place": {"$near": {"lat": 48.85, "lng": 2.35}}}
    assert ids(find(coll, {"where": near})) == [paris.id, versailles.id, london.id]
    assert ids(find(coll, {"where": {"place": {**near["place"], "$max_km": 30}}})) == [paris.id, versailles.id]
    first = find(coll, {"where": near, "limit": 2})
    second = find(coll, {"where": near, "limit": 2, "cursor": first.next_cursor})
    assert ids(first) + ids(second) == [paris.id, versailles.id, london.id] and second.next_cursor is None
    # An explicit order wins over distance; $near still filters to documents with a place.
    assert ids(find(coll, {"where": near, "order": "-created_at"})) == [london.id, versailles.id, paris.id]


def test_within_box_including_across_the_antimeridian(coll):
    fiji = add(coll, {"place": {"lat": -17.7, "lng": 178.0}})
    samoa = add(coll, {"place": {"lat": -13.8, "lng": -172.1}})
    paris = add(coll, {"place": {"lat": 48.85, "lng": 2.35}})
    assert ids(find(coll, {"where": {"place": {"$within_box": [[40, 0], [50, 5]]}}})) == [paris.id]
    across = {"place": {"$within_box": [[-20, 170], [-10, -170]]}}
    assert ids(find(coll, {"where": across})) == [fiji.id, samoa.id]


def test_related_to_stays_inside_the_project(coll, make_collection, make_project):
    users = make_collection("members", {"name": {"type": "string"}})
    alice, bob = add(users, {"name": "alice"}), add(users, {"name": "bob"})
    post = add(coll, {"title": "p"})
    relate(coll, "likes", post.id, alice.id)
    where = {"$related_to": {"collection": "posts", "id": post.id, "field": "likes"}}
    assert ids(find(users, {"where": where})) == [alice.id]
    assert ids(find(users, {"where": {"$nor": [where]}})) == [bob.id]
    # The same names in another project reach nothing here.
    foreign = make_project()
    their_posts = make_collection("posts", proj=foreign.project)
    their_post = add(their_posts, {"title": "x"})
    relate(their_posts, "likes", their_post.id, bob.id)
    assert (
        ids(find(users, {"where": {"$related_to": {"collection": "posts", "id": their_post.id, "field": "likes"}}}))
        == []
    )


def test_text_search_regex_and_system_fields(coll):
    hello = add(coll, {"title": "Hello, wide World!"})
    add(coll, {"title": "worldly"})
    assert ids(find(coll, {"where": {"title": {"$search": "world HELLO"}}})) == [hello.id]
    assert ids(find(coll, {"where": {"title": {"$regex": "^hello", "$options": "i"}}})) == [hello.id]
    assert find(coll, {"where": {"title": {"$regex": "^hello"}}}).rows == []
    created = hello.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert ids(find(coll, {"where": {"created_at": {"$lte": created}}})) == [hello.id]
    assert ids(find(coll, {"where": {"id": {"$in": [hello.id, "zzz"]}}})) == [hello.id]


def test_dates_and_pointers_compare_in_stored_form(coll):
    early = add(coll, {"due": "2026-01-01T00:00:00.000Z", "author": "u_1"})
    late = add(coll, {"due": "2026-06-01T12:00:00.000Z", "author": "u_2"})
    assert ids(find(coll, {"where": {"due": {"$gt": "2026-03-01"}}})) == [late.id]
    assert ids(find(coll, {"where": {"due": {"$lte": "2026-01-01T01:00:00+01:00"}}})) == [early.id]
    assert ids(find(coll, {"where": {"author": "u_1"}})) == [early.id]
    assert ids(find(coll, {"where": {"author": {"id": "u_2"}}})) == [late.id]
    assert ids(find(coll, {"order": "-due"})) == [late.id, early.id]


def test_a_string_never_equals_a_number(coll):
    add(coll, {"meta": {"x": 5}})
    add(coll, {"meta": {"x": "5"}})
    add(coll, {"meta": {"x": True}})
    assert len(find(coll, {"where": {"meta.x": 5}}).rows) == 1
    assert len(find(coll, {"where": {"meta.x": "5"}}).rows) == 1
    assert len(find(coll, {"where": {"meta.x": 1}}).rows) == 0
    assert len(find(coll, {"where": {"meta.x": {"$gte": 0}}}).rows) == 1


@pytest.mark.parametrize("n", [1, 100])
def test_query_cost_is_constant(coll, n):
    docs = [add(coll, {"score": i, "author": f"u{i}"}) for i in range(n)]
    query = parse_query(coll, {"where": {"score": {"$gte": 0}}, "order": "-score", "limit": 100, "count": True}, LIMITS)
    with CaptureQueriesContext(connection) as ctx:
        result = run_find(coll, query, frozenset({"*"}))
    assert len(result.rows) == n and result.count == n
    # The page and its count: one statement (the count a sub-select column run once).
    assert len(ctx.captured_queries) == 1
    with CaptureQueriesContext(connection) as ctx:
        rows = fetch_by_ids(coll, [d.id for d in docs] + ["missing"], frozenset({"*"}))
    assert set(rows) == {d.id for d in docs} and len(ctx.captured_queries) == 1
    query.count = False
    with CaptureQueriesContext(connection) as ctx:
        run_find(coll, query, frozenset({"*"}))
    assert len(ctx.captured_queries) == 1


def test_count_rides_with_the_page_in_every_shape(coll):
    """The count a page carries is the whole match's, whatever the page holds: one row of many,
    nothing (0, no second statement), nothing past a cursor (a count of its own), with `$near`'s
    distance column beside it, and only what the principals may read."""
    for i in range(5):
        add(coll, {"score": i, "place": {"lat": 1.0 + i, "lng": 2.0}}, readers=["*"] if i % 2 else ["u1"])
    first = find(coll, {"where": {"score": {"$gte": 1}}, "order": "score", "limit": 1, "count": True})
    assert [r.data["score"] for r in first.rows] == [1] and first.count == 4 and first.next_cursor
    assert find(coll, {"where": {"score": {"$gte": 1}}, "limit": 1, "count": True}, frozenset({"*"})).count == 2
    with CaptureQueriesContext(connection) as ctx:
        none = find(coll, {"where": {"score": {"$gt": 9}}, "count": True})
    assert none.rows == [] and none.count == 0 and len(ctx.captured_queries) == 1
    raw = {"where": {"score": {"$gte": 3}}, "order": "score", "limit": 1, "count": True}
    page = find(coll, raw)
    assert [r.data["score"] for r in page.rows] == [3] and page.count == 2
    past = find(coll, {**raw, "cursor": page.next_cursor})
    assert [r.data["score"] for r in past.rows] == [4] and past.count == 2 and past.next_cursor is None
    # Nothing is left past the cursor, yet the count (which ignores the cursor) is not 0.
    Document.objects.filter(collection=coll, data__score=4).delete()
    with CaptureQueriesContext(connection) as ctx:
        beyond = find(coll, {**raw, "cursor": page.next_cursor})
    assert beyond.rows == [] and beyond.count == 1 and len(ctx.captured_queries) == 2
    near = find(coll, {"where": {"place": {"$near": {"lat": 1.0, "lng": 2.0}}}, "limit": 2, "count": True})
    assert [r.data["score"] for r in near.rows] == [0, 1] and near.count == 4 and near.next_cursor


def test_fetch_by_ids_respects_acl_and_collection(coll, make_collection):
    readable = add(coll, {}, readers=["*"])
    private = add(coll, {}, readers=["u1"])
    elsewhere = add(make_collection("other"), {}, readers=["*"])
    got = fetch_by_ids(coll, [readable.id, private.id, elsewhere.id], frozenset({"*"}))
    assert set(got) == {readable.id}
    assert fetch_by_ids(coll, [], None) == {}


@pytest.mark.parametrize("order", ["score", "-score", "title,-score", "-created_at"])
def test_cursor_pages_neither_skip_nor_repeat_under_writes(coll, order):
    """Others insert and delete between page requests: every survivor is seen exactly once, in order."""
    originals = [add(coll, {"score": i % 7, "title": "ab"[i % 2]}) for i in range(30)]
    seen: list[str] = []
    cursor, deleted, pages = None, set(), 0
    while True:
        result = find(coll, {"order": order, "limit": 4, "cursor": cursor}, frozenset({"*"}))
        seen.extend(ids(result))
        pages += 1
        # Between pages: new documents land everywhere in the order, unseen ones disappear.
        add(coll, {"score": pages % 7, "title": "a"})
        add(coll, {"score": -1, "title": "0"})
        victim = next((d for d in originals if d.id not in seen and d.id not in deleted), None)
        if victim is not None and pages % 2:
            Document.objects.filter(pk=victim.pk).delete()
            deleted.add(victim.id)
        cursor = result.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a document was repeated"
    survivors = {d.id for d in originals} - deleted
    assert survivors <= set(seen), "a document was skipped"
    full = ids(find(coll, {"order": order, "limit": 1000}, frozenset({"*"})))
    assert seen == [i for i in full if i in set(seen)], "pages came out of order"


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="statement_timeout is PostgreSQL's")
def test_queries_run_under_a_timeout_that_does_not_leak(coll, monkeypatch):
    """A find past its time budget is cancelled; one that answers leaves the transaction's timeout as it was."""
    add(coll, {"title": "abc"})
    with transaction.atomic():
        assert len(find(coll, {"where": {"title": {"$regex": "^a"}}}).rows) == 1
        with connection.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"
    original = Compiler.select

    def slow_select(self, *args):
        sql, params = original(self, *args)
        return sql.replace("FROM basalt_document", "FROM pg_sleep(0.5), basalt_document", 1), params

    monkeypatch.setattr(Compiler, "select", slow_select)
    with budget.capped(50), pytest.raises(InvalidQuery) as refused:
        find(coll, {"where": {"title": {"$regex": "^a"}}})
    assert refused.value.details["reason"] == "timeout"


def test_related_to_needs_the_source_document_readable_by_the_same_principals(coll, make_collection):
    """The compiler checks the source's read ACL in SQL: unreadable and missing sources match nothing."""
    members = make_collection("members", {"name": {"type": "string"}})
    alice = add(members, {"name": "alice"})
    open_post, closed_post = add(coll, {"title": "o"}, readers=["*"]), add(coll, {"title": "c"}, readers=["u1"])
    for post in (open_post, closed_post):
        relate(coll, "likes", post.id, alice.id)

    def liked(post_id, principals):
        where = {"$related_to": {"collection": "posts", "id": post_id, "field": "likes"}}
        return ids(find(members, {"where": where}, principals)), ids(
            find(members, {"where": {"$nor": [where]}}, principals)
        )

    assert liked(open_post.id, frozenset({"*"})) == ([alice.id], [])
    assert liked(closed_post.id, frozenset({"*"})) == liked("missing", frozenset({"*"})) == ([], [alice.id])
    assert liked(closed_post.id, frozenset({"*", "u1"})) == ([alice.id], [])
    assert liked(closed_post.id, None) == ([alice.id], [])  # secret key
    # Counted with the page, the same test sits in the count's sub-select and binds to its own rows.
    where = {"$related_to": {"collection": "posts", "id": closed_post.id, "field": "likes"}}
    for principals, expected in ((frozenset({"*"}), 0), (frozenset({"*", "u1"}), 1), (None, 1)):
        assert find(members, {"where": where, "limit": 1, "count": True}, principals).count == expected
        assert find(members, {"where": {"$nor": [where]}, "count": True}, principals).count == 1 - expected


def test_within_polygon_even_odd_and_the_matcher_agrees(coll):
    """A concave polygon (a "C" open to the east): SQL and the realtime matcher pick the same points."""
    from basalt.documents.cache import build_schema
    from basalt.documents.render import render
    from basalt.realtime import matcher
    from basalt.realtime.visibility import stored_form

    c_shape = [[50, 0], [50, 8], [47, 8], [47, 3], [44, 3], [44, 8], [43, 8], [43, 0]]
    inside = add(coll, {"place": {"lat": 48.85, "lng": 2.35}})
    in_spine = add(coll, {"place": {"lat": 45.0, "lng": 1.0}})
    add(coll, {"place": {"lat": 45.76, "lng": 4.84}})  # in the mouth
    add(coll, {"place": {"lat": 51.0, "lng": 2.0}})  # north of it
    add(coll, {"title": "no place"})
    grid = [add(coll, {"place": {"lat": 42.5 + i * 0.5, "lng": -0.5 + j * 0.75}}) for i in range(17) for j in range(13)]
    where = {"place": {"$within_polygon": c_shape}}
    found = set(ids(find(coll, {"where": where, "limit": 1000})))
    assert {inside.id, in_spine.id} <= found and len(found) > 2
    query = parse_query(coll, {"where": where}, LIMITS)
    schema = build_schema(coll)
    in_memory = {
        doc.id
        for doc in Document.objects.filter(collection=coll)
        if matcher.matches(query.where, stored_form(schema, render(schema, doc)))
    }
    assert in_memory == found
    assert len([g for g in grid if g.id in found]) < len(grid)
    # A polygon with only horizontal edges encloses nothing.
    assert ids(find(coll, {"where": {"place": {"$within_polygon": [[1, 1], [1, 2], [1, 3]]}}})) == []

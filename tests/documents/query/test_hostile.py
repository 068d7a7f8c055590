"""Hostile or malformed queries are refused with InvalidQuery (400 invalid_query), never a crash or SQL text."""

from __future__ import annotations

import pytest

from basalt.core.errors import InvalidQuery
from basalt.documents.query import parse_query, run_find

from .conftest import LIMITS, add

NESTED = {"score": 1}
for _ in range(11):
    NESTED = {"$and": [NESTED]}

BAD_WHERE = [
    {"$where": "this.score > 1"},
    {"$expr": {}},
    {"__proto__": {"polluted": True}},
    {"__class__": 1},
    {"meta.__proto__": 1},
    {"meta.__class__.__init__": 1},
    {"nope": 1},
    {"ti$tle": 1},
    {"title.": 1},
    {"meta..x": 1},
    {"title.sub": 1},
    {"id.x": 1},
    {"score": {"$foo": 1}},
    {"score": {"$gt": float("nan")}},
    {"score": {"$lt": float("inf")}},
    {"meta.x": float("-inf")},
    {"score": "abc"},
    {"score": {"$gt": True}},
    {"score": {"$gt": None}},
    {"score": {"$in": 5}},
    {"score": {"$in": list(range(1001))}},
    {"tags": {"$all": list(range(1001))}},
    {"tags": {"$all": []}},
    {"tags": {"$contains": {"a": 1}}},
    {"score": {"$regex": "1"}},
    {"title": {"$regex": "(a+)+$"}},
    {"title": {"$regex": "(a|a)*b"}},
    {"title": {"$regex": "(x*)*"}},
    {"title": {"$regex": r"(a)\1"}},
    {"title": {"$regex": "(?=a)"}},
    {"title": {"$regex": "a**"}},
    {"title": {"$regex": "a{1,1000}"}},
    {"title": {"$regex": "a{\u00b9}"}},  # a digit to isdigit(), not to int()
    {"title": {"$regex": "a{1,\u00b2}"}},
    {"title": {"$regex": ".*.*.*.*.*"}},
    {"title": {"$regex": "[[:alpha:]]"}},
    {"title": {"$regex": "[z-a]"}},
    {"title": {"$regex": "x" * 257}},
    {"title": {"$regex": "a", "$options": "x"}},
    {"title": {"$options": "i"}},
    {"title": {"$regex": 5}},
    {"title": {"$search": "   "}},
    {"title": "a\x00b"},
    {"score": 2**80},
    {"due": "2026-13-45"},
    {"due": {"$gt": "yesterday"}},
    {"created_at": {"$gt": "not a date"}},
    {"created_at": {"$lt": 5}},
    {"id": {"$in": [1, 2]}},
    {"published": {"$gt": False}},
    {"likes": "x"},
    {"meta": {"a": 1}},
    {"place": {"$near": {"lat": 100, "lng": 0}}},
    {"place": {"$near": {"lat": "1", "lng": 0}}},
    {"place": {"$near": [1, 2], "$max_km": -1}},
    {"place": {"$max_km": 5}},
    {"$or": [{"place": {"$near": [1, 2]}}]},
    {"place": {"$within_box": [[10, 0], [0, 10]]}},
    {"place": {"$within_box": [[0, 0]]}},
    {"place": {"$within_polygon": [[0, 0], [1, 1]]}},
    {"place": {"$within_polygon": [[0, 0], [1, 1], [91, 1]]}},
    {"place": {"$within_polygon": [[0, 0]] * 101}},
    {"place": {"$within_polygon": "x"}},
    {"place": {"$within_polygon": [[0, 0], [1, 1], {"lat": 1}]}},
    {"tags": {"$contained_by": "x"}},
    {"tags": {"$contained_by": [{"a": 1}]}},
    {"title": {"$contained_by": ["a"]}},
    {"$related_to": {"collection": "posts", "id": "x"}},
    {"$related_to": {"collection": "Posts!", "id": "x", "field": "likes"}},
    {"$related_to": {"collection": "posts", "id": "x' OR 1=1 --", "field": "likes"}},
    {"$or": []},
    {"$or": {"score": 1}},
    {"$and": [1]},
    NESTED,
    {"score": {"$exists": "yes"}},
]


@pytest.mark.parametrize("where", BAD_WHERE, ids=[str(i) for i in range(len(BAD_WHERE))])
def test_bad_where_is_invalid_query(coll, where):
    with pytest.raises(InvalidQuery) as caught:
        parse_query(coll, {"where": where}, LIMITS)
    assert "select" not in caught.value.message.lower()
    assert caught.value.status == 400 and caught.value.code == "invalid_query"


@pytest.mark.parametrize(
    "raw",
    [
        {"limit": 0},
        {"limit": 1001},
        {"limit": "abc"},
        {"limit": True},
        {"limit": -1},
        {"order": "nope"},
        {"order": "tags"},
        {"order": "meta"},
        {"order": "place"},
        {"order": "score,score"},
        {"order": "__proto__"},
        {"order": ["score", 1]},
        {"order": ",".join(["score"] * 9)},
        {"fields": "title,nope"},
        {"fields": [1]},
        {"expand": "title"},
        {"expand": "author.a.b.c"},
        {"expand": "author.__x"},
        {"count": "maybe"},
        {"cursor": "garbage"},
        {"cursor": "x" * 5000},
        {"where": "{not json"},
        {"where": [1]},
        {"select": "*"},
        "not a dict",
    ],
)
def test_bad_parameters_are_invalid_query(coll, raw):
    with pytest.raises(InvalidQuery):
        parse_query(coll, raw, LIMITS)


def test_limits_come_from_the_project(coll):
    tight = {**LIMITS, "max_in_values": 2, "max_where_depth": 2, "max_regex_length": 3, "max_page_size": 5}
    for raw in (
        {"where": {"score": {"$in": [1, 2, 3]}}},
        {"where": {"$or": [{"$or": [{"score": 1}]}]}},
        {"where": {"title": {"$regex": "abcd"}}},
        {"limit": 6},
    ):
        with pytest.raises(InvalidQuery):
            parse_query(coll, raw, tight)
    assert parse_query(coll, {}, tight).limit == 5


def test_forged_and_foreign_cursors_are_refused(coll, make_collection):
    for i in range(3):
        add(coll, {"score": i})
    page = run_find(coll, parse_query(coll, {"order": "score", "limit": 1}, LIMITS), None)
    cursor = page.next_cursor
    assert cursor
    middle = len(cursor) // 2
    tampered = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    for bad, raw in [
        (tampered, {"order": "score"}),
        (cursor, {"order": "-score"}),
        (cursor, {"order": "title"}),
    ]:
        with pytest.raises(InvalidQuery):
            parse_query(coll, {**raw, "cursor": bad}, LIMITS)
    other = make_collection("other")
    with pytest.raises(InvalidQuery):
        parse_query(other, {"order": "score", "cursor": cursor}, LIMITS)
    # The genuine cursor continues the same query.
    assert parse_query(coll, {"order": "score", "cursor": cursor}, LIMITS).after is not None

"""Property: run_find (paged through every cursor) returns exactly what the reference evaluator returns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basalt.documents.models import Document
from basalt.documents.query import parse_query, run_count, run_find

from . import reference
from .conftest import BASE, LIMITS

TITLES = ["", "a", "b", "ab", "a b", "b a c", "B", "ba", "abc", "c"]
DATES = ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.001Z", "2026-06-30T12:00:00.000Z", "2025-12-31T23:59:59.999Z"]
WORDS = ["a", "b", "c", "ab", "a b", "B"]
PATTERNS = ["^a", "b$", "a.", "^$", "A", "a|c", "[ab]c?", "^.b", "b+"]
TAGS = ["x", "y", "z"]
SCORES = [-2, -1, 0, 1, 2, 0.5, 1.5]
META = [0, 1, "0", "1", "a", True, False, None]

absent = st.just(reference.MISSING)


def maybe(strategy):
    return st.one_of(absent, st.none(), strategy)


docs_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "title": maybe(st.sampled_from(TITLES)),
            "score": maybe(st.sampled_from(SCORES)),
            "published": maybe(st.booleans()),
            "due": maybe(st.sampled_from(DATES)),
            "tags": maybe(st.lists(st.sampled_from(TAGS), max_size=3)),
            "meta": maybe(st.fixed_dictionaries({"x": maybe(st.sampled_from(META))})),
            "readers": st.sampled_from([["*"], ["u1"], ["u1", "u2"], []]),
            "age": st.integers(0, 5),
        }
    ),
    max_size=14,
)

RANGE_OPS = ["$lt", "$lte", "$gt", "$gte"]


def _ops(values, ranges: bool):
    base = [
        values.map(lambda v: v),
        values.map(lambda v: {"$eq": v}),
        values.map(lambda v: {"$ne": v}),
        st.lists(values, max_size=3).map(lambda vs: {"$in": vs}),
        st.lists(values, max_size=3).map(lambda vs: {"$nin": vs}),
        st.booleans().map(lambda b: {"$exists": b}),
        st.just(None),
        st.just({"$ne": None}),
    ]
    if ranges:
        base.append(st.tuples(st.sampled_from(RANGE_OPS), values).map(lambda t: {t[0]: t[1]}))
        base.append(st.tuples(values, values).map(lambda t: {"$gt": t[0], "$lte": t[1]}))
    return st.one_of(base)


leaf = st.one_of(
    _ops(st.sampled_from(TITLES), True).map(lambda c: {"title": c}),
    st.tuples(st.sampled_from(PATTERNS), st.sampled_from(["", "i"])).map(
        lambda t: {"title": {"$regex": t[0], "$options": t[1]} if t[1] else {"$regex": t[0]}}
    ),
    st.sampled_from(WORDS).map(lambda w: {"title": {"$search": w}}),
    _ops(st.sampled_from(SCORES), True).map(lambda c: {"score": c}),
    _ops(st.booleans(), False).map(lambda c: {"published": c}),
    _ops(st.sampled_from(DATES), True).map(lambda c: {"due": c}),
    st.one_of(
        st.sampled_from(TAGS).map(lambda t: {"$contains": t}),
        st.lists(st.sampled_from(TAGS), min_size=1, max_size=2).map(lambda t: {"$all": t}),
        st.lists(st.sampled_from(TAGS), max_size=2).map(lambda t: {"$contained_by": t}),
        st.lists(st.sampled_from(TAGS), max_size=2).map(lambda t: {"$in": t}),
        st.lists(st.sampled_from(TAGS), max_size=2).map(lambda t: {"$nin": t}),
        st.lists(st.sampled_from(TAGS), max_size=2),
        st.sampled_from(TAGS),
        st.booleans().map(lambda b: {"$exists": b}),
    ).map(lambda c: {"tags": c}),
    _ops(st.sampled_from([v for v in META if v is not None]), False).map(lambda c: {"meta.x": c}),
    st.tuples(st.sampled_from(RANGE_OPS), st.sampled_from([0, 1, "0", "a"])).map(lambda t: {"meta.x": {t[0]: t[1]}}),
    st.booleans().map(lambda b: {"meta": {"$exists": b}}),
)
where_strategy = st.recursive(
    st.one_of(st.just({}), leaf),
    lambda children: st.one_of(
        st.tuples(st.sampled_from(["$and", "$or", "$nor"]), st.lists(children, min_size=1, max_size=3)).map(
            lambda t: {t[0]: t[1]}
        ),
        st.tuples(children, children).map(lambda t: {**t[0], **t[1]}),
    ),
    max_leaves=6,
)
order_strategy = st.lists(
    st.sampled_from(["title", "score", "published", "due", "created_at", "id", "updated_at"]),
    max_size=3,
    unique=True,
).flatmap(lambda names: st.tuples(*[st.sampled_from([n, "-" + n]) for n in names]).map(list))
principals_strategy = st.sampled_from([None, frozenset({"*"}), frozenset({"u1"}), frozenset({"*", "u2"}), frozenset()])


def _store(coll, generated):
    Document.objects.filter(collection=coll).delete()
    rows, reference_docs = [], []
    for i, spec in enumerate(generated):
        data = {k: v for k, v in spec.items() if k not in ("readers", "age") and v is not reference.MISSING}
        if isinstance(data.get("meta"), dict):
            data["meta"] = {k: v for k, v in data["meta"].items() if v is not reference.MISSING}
        created = BASE + timedelta(seconds=spec["age"])  # collisions on purpose: ties must break by id
        doc_id = f"p{i:04d}"
        rows.append(
            Document(
                id=doc_id,
                project_id=coll.project_id,
                collection=coll,
                data=data,
                read_principals=spec["readers"],
                created_at=created,
                updated_at=created,
            )
        )
        reference_docs.append(
            {"id": doc_id, "data": data, "readers": spec["readers"], "created_at": created, "updated_at": created}
        )
    Document.objects.bulk_create(rows)
    return reference_docs


@pytest.mark.django_db
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(
    generated=docs_strategy,
    where=where_strategy,
    order=order_strategy,
    principals=principals_strategy,
    page=st.integers(1, 4),
)
def test_engine_matches_reference(coll, generated, where, order, principals, page):
    docs = _store(coll, generated)
    expected = reference.find(docs, where, order or ["created_at"], principals)  # the engine default
    got, cursor, pages = [], None, 0
    while True:
        raw = {"where": where, "order": order, "limit": page, "cursor": cursor, "count": pages == 0}
        query = parse_query(coll, raw, LIMITS)
        result = run_find(coll, query, principals)
        if pages == 0:
            assert result.count == len(expected)
        got.extend(row.id for row in result.rows)
        pages += 1
        cursor = result.next_cursor
        if cursor is None:
            break
        assert pages <= len(expected) + 1, "cursor loop"
    assert got == expected
    assert run_count(coll, parse_query(coll, {"where": where}, LIMITS), principals) == len(expected)

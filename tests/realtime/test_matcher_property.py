"""Property: the in-memory matcher agrees with the SQL query compiler on random documents and `where`s."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from basalt.documents.cache import build_schema
from basalt.documents.models import Collection, Document
from basalt.documents.query import parse_query, run_find
from basalt.documents.render import render
from basalt.realtime import matcher
from basalt.realtime.visibility import stored_form
from tests.documents.query.conftest import FIELDS, LIMITS
from tests.documents.query.test_property import _store, docs_strategy, where_strategy


@pytest.fixture
def coll(project):
    return Collection.objects.create(project=project.project, name="posts", fields=FIELDS)


@pytest.mark.django_db
@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(generated=docs_strategy, where=where_strategy)
def test_matcher_agrees_with_sql(coll, generated, where):
    _store(coll, generated)
    query = parse_query(coll, {"where": where, "limit": 1000}, LIMITS)
    from_sql = {row.id for row in run_find(coll, query, None).rows}
    schema = build_schema(coll)
    in_memory = {
        doc.id
        for doc in Document.objects.filter(collection=coll)
        if matcher.matches(query.where, stored_form(schema, render(schema, doc)))
    }
    assert in_memory == from_sql


def _no_match_in_a_child(where, field: str, queue) -> None:
    queue.put(matcher.matches(where, {"data": {field: "a" * 5000}}))


@pytest.mark.django_db
def test_regression_backtracking_regex_cannot_stall_the_realtime_process(coll):
    """Issue 8 item 1, realtime sibling: a subscriber's `$regex` runs against every change in the
    realtime process. Python's backtracking `re` takes hours on this pattern and text and holds the
    GIL throughout (so the check runs in a forked child that can be killed); the matcher must use
    find's linear-time engine (RE2)."""
    import multiprocessing

    field = next(name for name, spec in FIELDS.items() if spec["type"] == "string")
    query = parse_query(coll, {"where": {field: {"$regex": ".{0,20}" * 6 + "Z"}}, "limit": 10}, LIMITS)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_no_match_in_a_child, args=(query.where, field, queue), daemon=True)
    child.start()
    child.join(timeout=60)
    stalled = child.is_alive()
    if stalled:
        child.kill()
    assert not stalled and queue.get(timeout=5) is False
    assert matcher.matches(query.where, {"data": {field: "a" * 50 + "Z"}})

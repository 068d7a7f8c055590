"""A count with a time limit (the console's "page 3 of 11" on a large collection): exact when the
database counts in time; past it, PostgreSQL's planner estimate, and the caller's transaction
still usable; SQLite has no estimate."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from basalt.core.caller import Caller
from basalt.core.errors import InvalidQuery
from basalt.documents.finding import count_within
from basalt.documents.query import budget
from basalt.documents.query.compiler import Compiler
from console.caller import console_caller

pytestmark = pytest.mark.django_db


@pytest.fixture
def ten(project, posts, sk):
    for n in range(10):
        assert (
            sk.post("/api/v1/collections/posts/documents", {"title": f"t{n}", "score": n}, format="json").status_code
            == 201
        )
    return console_caller(project.project, project.owner.pk)


@pytest.fixture
def slow_counts(monkeypatch):
    """Every count sleeps 0.5 s in the database (PostgreSQL), so a short limit really cancels it."""
    original = Compiler.count

    def count(self, query, principals):
        sql, params = original(self, query, principals)
        return sql.replace("FROM basalt_document", "FROM pg_sleep(0.5), basalt_document", 1), params

    monkeypatch.setattr(Compiler, "count", count)


def test_an_answer_in_time_is_exact(ten):
    assert count_within(ten, "posts", {"score": {"$gte": 5}}, 5_000) == (5, True)
    assert count_within(ten, "posts", {}, 5_000) == (10, True)


def test_the_limit_applies_only_inside(settings):
    with budget.capped(40):
        assert budget.for_query().timeout_ms == 40
    assert budget.for_query().timeout_ms == settings.QUERY_TIMEOUT_MS
    with budget.capped(10 * settings.QUERY_TIMEOUT_MS):  # never longer than the install's own limit
        assert budget.for_query().timeout_ms == settings.QUERY_TIMEOUT_MS


def test_a_bad_filter_is_still_an_error(ten):
    with pytest.raises(InvalidQuery):
        count_within(ten, "posts", {"nope": 1}, 5_000)


def test_a_caller_without_the_count_permission_is_refused(project, posts):
    from basalt.core.errors import PermissionDenied

    anyone = Caller(project=project.project, key_kind="publishable", key_id="test")
    from basalt.documents import catalog

    catalog.update_collection(project.project, "posts", {"permissions": {"count": []}})
    with pytest.raises(PermissionDenied):
        count_within(anyone, "posts", {}, 5_000)


def test_past_the_limit_postgresql_estimates_and_the_transaction_goes_on(ten, slow_counts):
    if connection.vendor != "postgresql":
        pytest.skip("pg_sleep is PostgreSQL's; the SQLite case is the next test")
    with transaction.atomic():
        count, exact = count_within(ten, "posts", {"score": {"$gte": 5}}, 50)
        assert exact is False and isinstance(count, int) and count >= 0
        # The cancelled count did not fail the surrounding transaction.
        assert count_within(ten, "posts", {}, 5_000) == (10, True)  # given time, the slow count answers


def test_past_the_limit_sqlite_says_it_does_not_know(ten, monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("the PostgreSQL case is the test before")
    from basalt.documents import query

    def too_slow(*args, **kwargs):
        raise budget.too_slow(budget.for_query())

    monkeypatch.setattr(query, "run_count", too_slow)
    assert count_within(ten, "posts", {}, 50) == (None, False)

"""test_caller_cache's changes again, each committed as in production: there every request runs
outside a transaction, so on SQLite the key lookup itself is kept while the file is unchanged
(core.unchanged), and the change must reach the very next request through that memo as well.
(The tests of test_caller_cache.py run inside a test transaction, where the memo stays out of the way.)"""

from __future__ import annotations

import pytest
from django.db import connection

from basalt.projects.caller import resolve_caller

from .test_caller_cache import (
    _epoch,
    _Request,
    _statements,
    test_a_revoked_key_is_refused_on_the_next_request,
    test_a_session_revoked_by_any_sql_ends_a_cached_token,
    test_a_token_of_another_project_is_not_served_from_the_cache,
    test_disabling_and_deleting_users_end_cached_tokens,
    test_logout_ends_a_cached_token_on_the_next_request,
    test_revoking_all_sessions_through_the_admin_api_ends_a_cached_token,
    test_role_changes_reach_a_cached_caller_on_the_next_request,
    test_unrelated_writes_leave_the_epoch_alone,
)

pytestmark = pytest.mark.django_db(transaction=True)

__all__ = [
    "test_a_session_revoked_by_any_sql_ends_a_cached_token",
    "test_a_token_of_another_project_is_not_served_from_the_cache",
    "test_disabling_and_deleting_users_end_cached_tokens",
    "test_logout_ends_a_cached_token_on_the_next_request",
    "test_revoking_all_sessions_through_the_admin_api_ends_a_cached_token",
    "test_role_changes_reach_a_cached_caller_on_the_next_request",
    "test_a_revoked_key_is_refused_on_the_next_request",
    "test_unrelated_writes_leave_the_epoch_alone",
]


def test_a_cached_resolution_on_an_unchanged_file_costs_no_statement(project, user):
    request = _Request(project.publishable, user.access)
    first, caller = _statements(lambda: resolve_caller(request))
    # After this connection's own writes (the fixtures'), a lookup only notes them (core.unchanged).
    resolve_caller(request.again())
    again, cached = _statements(lambda: resolve_caller(request.again()))
    assert first >= 1
    # SQLite: nothing committed since, so not even the key lookup; PostgreSQL: the key lookup.
    assert again == (0 if connection.vendor == "sqlite" else 1)
    assert cached == caller and cached.user_id == user.id


def test_a_signing_key_change_ends_the_cached_resolution(project, user):
    from basalt.identity.models import SigningKey

    request = _Request(project.publishable, user.access)
    resolve_caller(request.again())
    resolve_caller(request.again())  # the first lookup after the fixtures' writes only notes them
    assert _statements(lambda: resolve_caller(request.again()))[0] == (0 if connection.vendor == "sqlite" else 1)
    before = _epoch(project)
    SigningKey.objects.filter(project=project.project).update(status="retired")
    assert _epoch(project) == before + 1
    assert _statements(lambda: resolve_caller(request.again()))[0] >= 2  # key lookup and session, afresh

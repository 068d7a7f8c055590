"""The engine's re-check of every live caller (on each change, and every 2 s while idle) must not
cost a database round trip per connection: thousands of connections share a handful of keys, and
a token already resolved under the project's current caller epoch needs no query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from basalt.core.errors import InvalidApiKey, InvalidToken
from basalt.realtime import lookups

pytestmark = pytest.mark.django_db


def _anonymous_token(publishable: str) -> str:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=publishable)
    response = client.post("/api/v1/auth/anonymous")
    assert response.status_code == 201, response.content
    return response.json()["access_token"]


def test_a_round_looks_up_each_key_once_and_each_known_token_not_at_all(project):
    tokens = [_anonymous_token(project.publishable) for _ in range(30)]
    identities = [(project.publishable, token) for token in tokens] + [(project.secret, None)]
    _, _, first = lookups.refresh(project.project.pk, False, identities)  # resolves every token once
    assert {verdict.user_id for verdict in first.values() if verdict.user_id} and len(first) == 31
    with CaptureQueriesContext(connection) as queries:
        _, _, again = lookups.refresh(project.project.pk, False, identities)
    assert len(queries) == 2, [q["sql"][:80] for q in queries]  # one per distinct key
    assert {k: (v.user_id, v.key_kind) for k, v in again.items()} == {
        k: (v.user_id, v.key_kind) for k, v in first.items()
    }


def test_a_revoked_key_or_an_ended_session_still_shows_in_the_next_round(project):
    from basalt.identity.models import Session
    from basalt.projects.models import ApiKey

    tokens = [_anonymous_token(project.publishable) for _ in range(3)]
    identities = [(project.publishable, token) for token in tokens]
    lookups.refresh(project.project.pk, False, identities)
    ended = Session.objects.filter(project=project.project).order_by("created_at").first()
    # A plain UPDATE, as a sign-out elsewhere would commit it: the caller-epoch trigger must notice.
    Session.objects.filter(pk=ended.pk).update(revoked_at=timezone.now())
    _, _, verdicts = lookups.refresh(project.project.pk, False, identities)
    refused = [token for token in tokens if isinstance(verdicts[(project.publishable, token)], InvalidToken)]
    assert len(refused) == 1
    ApiKey.objects.filter(project=project.project).update(revoked_at=timezone.now())
    _, _, verdicts = lookups.refresh(project.project.pk, False, identities)
    assert all(isinstance(verdict, InvalidApiKey) for verdict in verdicts.values())

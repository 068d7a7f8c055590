"""Races (T8): 50 concurrent redemptions of one reset or verification code → exactly one success."""

from __future__ import annotations

import re
import threading

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection

from basalt.identity.models import Session

from .conftest import PASSWORD, key_client

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql"),
        reason="real concurrent transactions need PostgreSQL (SQLite serialises writers)",
    ),
]
THREADS = 50


def _code() -> str:
    return re.search(r"code: (\S+)", mail.outbox[-1].body).group(1)


def _hammer(path: str, body_for, key: str) -> list[int]:
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        try:
            client = key_client(key)
            barrier.wait()
            status = client.post(path, body_for(index), format="json").status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_fifty_concurrent_reset_confirmations_one_success(project, signup):
    user = signup()
    key_client(project.publishable).post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    code = _code()
    statuses = _hammer(
        "/api/v1/auth/password/reset/confirm",
        lambda i: {"token": code, "password": f"Winner-number-{i:02d}!"},
        project.publishable,
    )
    assert sorted(statuses) == [204] + [400] * (THREADS - 1)
    from django.contrib.auth.hashers import check_password

    from basalt.identity.models import EndUser

    encoded = EndUser.objects.get(pk=user.id).password
    winners = [i for i in range(THREADS) if check_password(f"Winner-number-{i:02d}!", encoded)]
    assert len(winners) == 1


def test_fifty_concurrent_verifications_one_success(project, signup):
    user = signup()
    user.client.post("/api/v1/auth/verify/request", {}, format="json")
    code = _code()
    statuses = _hammer("/api/v1/auth/verify/confirm", lambda i: {"token": code}, project.publishable)
    assert sorted(statuses) == [200] + [400] * (THREADS - 1)


def test_fifty_concurrent_refreshes_one_new_pair(project, signup):
    """One refresh token exchanged 50 times at once: one pair issued; the replays revoke the session."""
    user = signup()
    statuses = _hammer("/api/v1/auth/refresh", lambda i: {"refresh_token": user.refresh}, project.publishable)
    assert statuses.count(200) == 1
    assert statuses.count(401) == THREADS - 1
    assert Session.objects.get(pk=user.body["session_id"]).revoked_at is not None


def test_concurrent_signups_with_one_email_make_one_user(project, settings):
    settings.IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR = 1000
    from basalt.identity.models import EndUser

    statuses = _hammer(
        "/api/v1/auth/signup", lambda i: {"email": "same@example.com", "password": PASSWORD}, project.publishable
    )
    assert statuses.count(201) == 1
    assert set(statuses) == {201, 409}
    assert EndUser.objects.filter(project=project.project, email="same@example.com").count() == 1

"""Two owners demoting each other at the same moment leave the project with exactly one owner."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are the PostgreSQL pass's job")
def test_concurrent_mutual_demotion_keeps_one_owner(make_project, make_account):
    from django.db import connections

    from basalt.core.errors import BasaltError
    from basalt.projects import services
    from basalt.projects.models import Membership

    keys = make_project("Race")
    ref = keys.project.ref
    first = keys.owner
    second = make_account()
    services.join_project(keys.project, second, "owner")
    mine = {
        first.pk: Membership.objects.get(project=keys.project, account=first).pk,
        second.pk: Membership.objects.get(project=keys.project, account=second).pk,
    }
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def demote_self(account) -> None:
        try:
            barrier.wait(timeout=10)
            services.change_member_role(account, ref, str(mine[account.pk]), "admin")
            outcomes.append("ok")
        except BasaltError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=demote_self, args=(account,)) for account in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["conflict", "ok"]
    assert Membership.objects.filter(project=keys.project, role="owner").count() == 1

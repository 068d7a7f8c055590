"""Adding a member is an invitation (no account enumeration, no joining without consent), and the
number of projects one console account may own is capped (CONSOLE_PROJECTS_PER_ACCOUNT)."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connection

from tests.conftest import console_client_for
from tests.foundation.conftest import assert_error

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/manage/projects"


def test_add_member_answers_alike_for_known_and_unknown_emails_and_adds_nobody(
    project, make_account, django_capture_on_commit_callbacks
):
    """POST …/members used to add an existing account at once (201) and refuse an unknown address
    (400 "No console account uses this address"): an enumeration oracle and consent-less joins."""
    from basalt.projects.models import Invitation, Membership

    existing = make_account("has-account@example.com")
    owner = console_client_for(project.owner)
    members = f"{PROJECTS}/{project.project.ref}/members"
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            owner.post(members, {"email": email, "role": "developer"}, format="json")
            for email in ("has-account@example.com", "no-account@example.com")
        ]
    assert [answer.status_code for answer in answers] == [202, 202], [a.content for a in answers]
    bodies = [answer.json() for answer in answers]
    assert {tuple(sorted(body)) for body in bodies} == {tuple(sorted(bodies[0]))}
    assert [(body["status"], body["role"]) for body in bodies] == [("pending", "developer")] * 2
    assert not Membership.objects.filter(project=project.project, account=existing).exists()
    assert Invitation.objects.filter(project=project.project).count() == 2
    # The account joins only by accepting the link sent to its address.
    assert sorted(message.to[0] for message in mail.outbox) == ["has-account@example.com", "no-account@example.com"]
    listed = owner.get(members).json()["results"]
    assert [member["email"] for member in listed] == [project.owner.email]


def test_add_member_still_checks_role_and_input(project, make_account):
    from basalt.projects import services

    admin = make_account()
    services.join_project(project.project, admin, "admin")
    members = f"{PROJECTS}/{project.project.ref}/members"
    client = console_client_for(admin)
    assert_error(
        client.post(members, {"email": "x@example.com", "role": "owner"}, format="json"), 403, "permission_denied"
    )
    error = assert_error(
        client.post(members, {"email": "nope", "role": "viewer"}, format="json"), 400, "validation_failed"
    )
    assert set(error["details"]) == {"email"}
    assert_error(client.post(members, {"email": project.owner.email, "role": "viewer"}, format="json"), 409, "conflict")


def test_project_creation_is_capped_per_account(console, make_account, settings):
    settings.CONSOLE_PROJECTS_PER_ACCOUNT = 2
    refs = []
    for name in ("one", "two"):
        created = console.post(PROJECTS, {"name": name}, format="json")
        assert created.status_code == 201, created.content
        refs.append(created.json()["ref"])
    refused = assert_error(console.post(PROJECTS, {"name": "three"}, format="json"), 429, "quota_exceeded")
    assert refused["details"] == {"limit": 2}
    assert len(console.get(PROJECTS).json()["results"]) == 2
    # Another account has its own allowance; deleting a project frees one.
    assert console_client_for(make_account()).post(PROJECTS, {"name": "other"}, format="json").status_code == 201
    assert console.delete(f"{PROJECTS}/{refs[0]}").status_code == 204
    assert console.post(PROJECTS, {"name": "three"}, format="json").status_code == 201


def test_project_cap_applies_in_the_console_too(make_account, settings):
    from django.test import Client

    settings.CONSOLE_PROJECTS_PER_ACCOUNT = 1
    client = Client()
    client.force_login(make_account(), backend="django.contrib.auth.backends.ModelBackend")
    assert client.post("/console/projects", {"name": "first"}).status_code == 201
    refused = client.post("/console/projects", {"name": "second"})
    assert refused.status_code == 400 and b"CONSOLE_PROJECTS_PER_ACCOUNT" in refused.content


def test_a_zero_cap_means_no_cap(console, settings):
    settings.CONSOLE_PROJECTS_PER_ACCOUNT = 0
    for name in ("a", "b", "c"):
        assert console.post(PROJECTS, {"name": name}, format="json").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_cannot_overshoot_the_cap(make_account, settings):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    from basalt.core.errors import BasaltError
    from basalt.projects import services
    from basalt.projects.models import Membership

    settings.CONSOLE_PROJECTS_PER_ACCOUNT = 1
    account = make_account()
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def create(index: int) -> None:
        try:
            barrier.wait()
            services.create_project(account, f"race {index}")
            outcomes.append("created")
        except BasaltError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] + ["quota_exceeded"] * 3
    assert Membership.objects.filter(account=account, role="owner").count() == 1


def test_pending_invitations_per_project_are_capped(project, monkeypatch):
    """Every invitation emails an address the inviter picks: a project cannot mail without bound."""
    from basalt.projects import invitations

    monkeypatch.setattr(invitations, "PENDING_INVITATIONS_MAX", 3)
    owner = console_client_for(project.owner)
    members = f"{PROJECTS}/{project.project.ref}/members"
    for n in range(3):
        assert owner.post(members, {"email": f"p{n}@example.com", "role": "viewer"}, format="json").status_code == 202
    refused = owner.post(members, {"email": "p3@example.com", "role": "viewer"}, format="json")
    assert assert_error(refused, 429, "quota_exceeded")["details"] == {"limit": 3}
    first = owner.get(f"{PROJECTS}/{project.project.ref}/invitations").json()["results"][0]["id"]
    assert owner.delete(f"{PROJECTS}/{project.project.ref}/invitations/{first}").status_code == 204
    assert owner.post(members, {"email": "p3@example.com", "role": "viewer"}, format="json").status_code == 202

"""Invitations: invite by email, accept through the link (sign up or sign in), revoke; console and API."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from basalt.projects import invitations, services
from basalt.projects.models import Invitation, Membership
from tests.conftest import console_client_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """Run a callable and the on-commit hooks it registered (the invitation email is sent there)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def link_in(message) -> str:
    match = re.search(r"http://testserver(/console/invite/[A-Za-z0-9_-]+)", message.body)
    assert match, message.body
    return match.group(1)


def api_url(project, suffix: str = "") -> str:
    return f"/api/v1/manage/projects/{project.project.ref}/invitations{suffix}"


@pytest.fixture
def invite(django_capture_on_commit_callbacks):
    """Invite through the service and return the link path from the email it sent."""

    def make(project, email: str, role: str = "developer") -> str:
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            invitations.invite_member(
                project.owner, project.project.ref, email, role, accept_url="http://testserver/console/invite/{token}"
            )
        return link_in(mail.outbox[-1])

    return make


# --- the full flow in the console ---------------------------------------------------------------


def test_invite_sign_up_and_land_in_the_project(owner_client, project, send):
    response = send(
        owner_client.post,
        f"/console/p/{project.project.ref}/invitations",
        {"email": "New@Example.com", "role": "admin"},
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["New@Example.com"]
    link = link_in(mail.outbox[0])
    row = Invitation.objects.get(project=project.project)
    assert link.rsplit("/", 1)[1] not in row.token_hash  # only the hash is stored
    members_page = owner_client.get(f"/console/p/{project.project.ref}/members").content.decode()
    assert "New@Example.com" in members_page and "pending" in members_page

    visitor = Client()
    landing = visitor.get(link).content.decode()
    assert "Join" in landing and "admin" in landing and "Create an account" in landing
    signup_url = re.search(r'href="(/console/signup\?[^"]+)"', landing).group(1).replace("&amp;", "&")
    assert "New%40Example.com" in signup_url
    signup_page = visitor.get(signup_url).content.decode()
    assert 'value="New@Example.com"' in signup_page
    next_value = re.search(r'name="next" value="([^"]+)"', signup_page).group(1)
    response = visitor.post("/console/signup", {"email": "new@example.com", "password": PASSWORD, "next": next_value})
    assert response.status_code == 302 and response["Location"] == link
    accepted = visitor.post(link)
    assert accepted.status_code == 302 and accepted["Location"].rstrip("/") == f"/console/p/{project.project.ref}"
    membership = Membership.objects.get(project=project.project, account__email="new@example.com")
    assert membership.role == "admin"
    assert visitor.get(f"/console/p/{project.project.ref}/").status_code == 200
    # Single use: the same link again is refused and changes nothing.
    assert visitor.post(link).status_code == 400
    assert Client().get(link).status_code == 400
    assert "No pending invitations." in owner_client.get(f"/console/p/{project.project.ref}/members").content.decode()


def test_existing_account_signs_in_and_accepts(project, make_account, invite):
    account = make_account("known@example.com")
    link = invite(project, "known@example.com", "viewer")
    visitor = Client()
    landing = visitor.get(link).content.decode()
    signin_url = re.search(r'href="(/console/signin\?[^"]+)"', landing).group(1).replace("&amp;", "&")
    page = visitor.get(signin_url).content.decode()
    next_value = re.search(r'name="next" value="([^"]+)"', page).group(1)
    response = visitor.post("/console/signin", {"email": account.email, "password": PASSWORD, "next": next_value})
    assert response["Location"] == link
    assert visitor.post(link).status_code == 302
    assert Membership.objects.get(project=project.project, account=account).role == "viewer"


def test_another_account_cannot_use_a_forwarded_link(project, browser_for, make_account, invite):
    link = invite(project, "intended@example.com")
    stranger = browser_for(make_account("stranger@example.com"))
    assert "Sign out" in stranger.get(link).content.decode()
    response = stranger.post(link)
    assert response.status_code == 403 and "intended@example.com" in response.content.decode()
    assert not Membership.objects.filter(project=project.project, account=stranger.account).exists()
    assert Invitation.objects.get(project=project.project).accepted_at is None


def test_anonymous_accept_goes_to_sign_in_and_changes_nothing(project, invite):
    link = invite(project, "anon@example.com")
    response = Client().post(link)
    assert response.status_code == 302 and response["Location"].startswith("/console/signin?next=")
    assert Invitation.objects.get(project=project.project).accepted_at is None


@pytest.mark.parametrize("state", ["expired", "revoked", "used", "forged"])
def test_dead_links_are_refused(project, browser_for, make_account, state, invite):
    account = make_account("late@example.com")
    link = invite(project, "late@example.com")
    row = Invitation.objects.get(project=project.project)
    if state == "expired":
        row.expires_at = timezone.now() - timedelta(seconds=1)
        row.save()
    elif state == "revoked":
        invitations.revoke_invitation(project.owner, project.project.ref, row.pk)
    elif state == "used":
        row.accepted_at = timezone.now()
        row.save()
    else:
        link = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    client = browser_for(account)
    page = client.get(link)
    assert page.status_code == 400
    assert ("expired" in page.content.decode()) == (state == "expired")
    assert client.post(link).status_code == 400
    assert not Membership.objects.filter(project=project.project, account=account).exists()


# --- the members page ---------------------------------------------------------------------------


def test_revoke_from_the_members_page(owner_client, project, invite):
    invite(project, "gone@example.com")
    row = Invitation.objects.get(project=project.project)
    page = owner_client.get(f"/console/p/{project.project.ref}/members").content.decode()
    revoke = f"/console/p/{project.project.ref}/invitations/{row.pk}/revoke"
    assert revoke in page
    assert owner_client.post(revoke).status_code == 302
    assert Invitation.objects.get(pk=row.pk).revoked_at is not None
    assert (
        "<td>gone@example.com</td>"
        not in owner_client.get(f"/console/p/{project.project.ref}/members").content.decode()
    )


@pytest.mark.parametrize("role", ["viewer", "developer"])
def test_weaker_roles_see_no_invite_form_and_are_refused(project, member_client, role, invite):
    invite(project, "listed@example.com")
    row = Invitation.objects.get(project=project.project)
    client = member_client(role)
    page = client.get(f"/console/p/{project.project.ref}/members").content.decode()
    assert (
        "listed@example.com" in page and "Send invitation" not in page and "/revoke" not in page.split("Invitations")[1]
    )
    mail.outbox.clear()
    response = client.post(
        f"/console/p/{project.project.ref}/invitations", {"email": "x@example.com", "role": "viewer"}
    )
    assert response.status_code == 403 and not mail.outbox
    assert client.post(f"/console/p/{project.project.ref}/invitations/{row.pk}/revoke").status_code == 403
    assert Invitation.objects.filter(project=project.project).count() == 1
    assert Invitation.objects.get(pk=row.pk).revoked_at is None


def test_invite_form_errors_are_next_to_the_field(owner_client, project, make_account):
    base = f"/console/p/{project.project.ref}/invitations"
    response = owner_client.post(base, {"email": "not-an-email", "role": "viewer"})
    assert response.status_code == 400 and 'id="id_invite_email-errors"' in response.content.decode()
    member = make_account()
    services.join_project(project.project, member, "viewer")
    response = owner_client.post(base, {"email": member.email.upper(), "role": "viewer"})
    assert response.status_code == 400 and "already belongs to a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_admin_cannot_invite_or_revoke_an_owner(project, member_client, invite):
    admin = member_client("admin")
    response = admin.post(
        f"/console/p/{project.project.ref}/invitations", {"email": "boss@example.com", "role": "owner"}
    )
    assert response.status_code == 403 and not Invitation.objects.exists()
    invite(project, "boss@example.com", "owner")
    row = Invitation.objects.get()
    assert admin.post(f"/console/p/{project.project.ref}/invitations/{row.pk}/revoke").status_code == 403
    assert Invitation.objects.get().revoked_at is None


def test_another_accounts_project_is_not_found(project, browser_for):
    outsider = browser_for()
    response = outsider.post(
        f"/console/p/{project.project.ref}/invitations", {"email": "a@example.com", "role": "viewer"}
    )
    assert response.status_code == 404 and not Invitation.objects.exists()


# --- the management API -------------------------------------------------------------------------


def test_api_invite_list_and_revoke(project, send):
    owner = console_client_for(project.owner)
    response = send(owner.post, api_url(project), {"email": "api@example.com", "role": "developer"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "email", "role", "status", "created_at", "expires_at"}
    assert body["status"] == "pending" and "token" not in response.content.decode()
    assert len(mail.outbox) == 1 and "/console/invite/" in mail.outbox[0].body
    listed = owner.get(api_url(project)).json()["results"]
    assert [item["id"] for item in listed] == [body["id"]]
    assert (
        send(owner.post, api_url(project), {"email": "API@example.com", "role": "viewer"}, format="json").status_code
        == 409
    )
    assert owner.delete(api_url(project, f"/{body['id']}")).status_code == 204
    assert owner.delete(api_url(project, f"/{body['id']}")).status_code == 204  # revoking twice changes nothing
    assert owner.get(api_url(project)).json()["results"] == []
    # After a revoke the same address can be invited again.
    assert (
        send(owner.post, api_url(project), {"email": "api@example.com", "role": "viewer"}, format="json").status_code
        == 201
    )


def test_api_invitation_of_another_project_is_not_found(project, make_project, invite):
    other = make_project("Other")
    invite(other, "theirs@example.com")
    foreign = Invitation.objects.get(project=other.project)
    response = console_client_for(project.owner).delete(api_url(project, f"/{foreign.pk}"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Invitation.objects.get(pk=foreign.pk).revoked_at is None
    console_page = Client()
    console_page.force_login(project.owner, backend="django.contrib.auth.backends.ModelBackend")
    assert console_page.post(f"/console/p/{project.project.ref}/invitations/{foreign.pk}/revoke").status_code == 404
    assert Invitation.objects.get(pk=foreign.pk).revoked_at is None


def test_api_denied_roles_change_nothing(project, make_account):
    for role in ("viewer", "developer"):
        account = make_account()
        services.join_project(project.project, account, role)
        client = console_client_for(account)
        response = client.post(api_url(project), {"email": "z@example.com", "role": "viewer"}, format="json")
        assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert not Invitation.objects.exists() and not mail.outbox


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com", "role": "superowner"},
        {"email": "a@example.com", "role": ["owner"]},
        {"email": ["a@example.com"], "role": "viewer"},
        {"email": "a@example.com\nBcc: x@example.com", "role": "viewer"},
        {"email": "x" * 300 + "@example.com", "role": "viewer"},
        {"email": "", "role": "viewer"},
        {"email": None, "role": "viewer"},
        {"email": "a@example.com", "role": "viewer", "token": "mine"},
        {"email": "a@example.com"},
        ["a@example.com", "viewer"],
        "a@example.com",
    ],
)
def test_api_hostile_bodies_are_validation_failed(project, body):
    response = console_client_for(project.owner).post(api_url(project), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_failed"
    assert not Invitation.objects.exists() and not mail.outbox


@pytest.mark.parametrize("invitation_id", ["abc", "inv_" + "a" * 40, "%00", "1", "' OR 1=1 --"])
def test_api_odd_invitation_ids_are_not_found(project, invitation_id):
    response = console_client_for(project.owner).delete(api_url(project, f"/{invitation_id}"))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_huge_and_odd_tokens_are_refused_without_error(project, browser_for):
    client = browser_for()
    assert client.get("/console/invite/" + "a" * 100).status_code == 400
    assert client.get("/console/invite/" + "a" * 101).status_code == 404
    with pytest.raises(Exception) as raised:
        invitations.accept_invitation(client.account, {"token": "x"})
    assert raised.value.__class__.__name__ == "InvalidToken"


def test_closed_sign_up_still_admits_the_invited_address(project, settings, invite):
    settings.CONSOLE_SIGNUP_OPEN = False
    link = invite(project, "only-me@example.com", "viewer")
    visitor = Client()
    assert visitor.get("/console/signup").status_code == 403
    assert visitor.get("/console/signup?next=" + link).status_code == 200
    wrong = visitor.post("/console/signup", {"email": "other@example.com", "password": PASSWORD, "next": link})
    assert wrong.status_code == 400 and "only-me@example.com" in wrong.content.decode()
    forged = visitor.post(
        "/console/signup", {"email": "only-me@example.com", "password": PASSWORD, "next": link[:-3] + "zzz"}
    )
    assert forged.status_code == 403
    from basalt.accounts.models import Account

    assert not Account.objects.filter(email__in=["other@example.com", "only-me@example.com"]).exists()
    response = visitor.post("/console/signup", {"email": "only-me@example.com", "password": PASSWORD, "next": link})
    assert response.status_code == 302 and response["Location"] == link
    assert visitor.post(link).status_code == 302
    assert Membership.objects.get(project=project.project, account__email="only-me@example.com").role == "viewer"
    # Once used, the link no longer opens sign-up.
    assert Client().get("/console/signup?next=" + link).status_code == 403


def test_api_accept_with_the_token(project, make_account, invite):
    account = make_account("api-invitee@example.com")
    token = invite(project, "api-invitee@example.com", "developer").rsplit("/", 1)[1]
    client = console_client_for(account)
    assert APIClient().post("/api/v1/manage/invitations/accept", {"token": token}, format="json").status_code == 401
    stranger = console_client_for(make_account())
    response = stranger.post("/api/v1/manage/invitations/accept", {"token": token}, format="json")
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    response = client.post("/api/v1/manage/invitations/accept", {"token": token}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["ref"] == project.project.ref and response.json()["role"] == "developer"
    again = client.post("/api/v1/manage/invitations/accept", {"token": token}, format="json")
    assert again.status_code == 401 and again.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize(
    "body", [{}, {"token": 7}, {"token": ["x"]}, {"token": "x" * 5000}, {"token": "ok", "role": "owner"}, "tok"]
)
def test_api_accept_hostile_bodies(project, make_account, body):
    response = console_client_for(make_account()).post("/api/v1/manage/invitations/accept", body, format="json")
    assert response.status_code in (400, 401), response.content
    assert response.json()["error"]["code"] in ("validation_failed", "invalid_token")
    assert Membership.objects.filter(project=project.project).count() == 1

"""Issue 8 #9: sign-up is not an unthrottled oracle for which addresses have an account."""

from __future__ import annotations

from django.core import mail

from basalt.identity.models import EndUser
from basalt.projects.project_settings import update_settings

from .conftest import PASSWORD, bearer_client, key_client

SIGNUP = "/api/v1/auth/signup"


def _signup(client, email: str, password: str = PASSWORD):
    return client.post(SIGNUP, {"email": email, "password": password}, format="json")


def test_regression_signup_409_spends_the_address_budget_and_then_every_answer_is_429(project, signup, settings):
    """Duplicate sign-ups count like any other; once the budget is spent, known and unknown look alike."""
    settings.IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR = 3
    known = signup(email="known@example.com")  # the fixture's own attempt is one of the three
    client = key_client(project.publishable)
    assert _signup(client, known.email).status_code == 409
    assert _signup(client, known.email).status_code == 409
    known_again, unknown = _signup(client, known.email), _signup(client, "fresh@example.com")
    assert (known_again.status_code, unknown.status_code) == (429, 429)
    assert known_again.json() == unknown.json()
    assert known_again["Retry-After"] and unknown["Retry-After"]
    assert not EndUser.objects.filter(email="fresh@example.com").exists()


def test_regression_signup_with_confirmation_answers_the_same_for_a_registered_address(
    project, signup, django_capture_on_commit_callbacks
):
    """With email confirmation on, a registered address gets a new address's answer; its owner gets a mail."""
    owner = signup(email="owner@example.com")
    update_settings(project.project, {"auth": {"require_verified_email_for_login": True}})
    client = key_client(project.publishable)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        fresh = _signup(client, "new@example.com")
        taken = _signup(client, owner.email, password="An0ther-pass-phrase")
    assert fresh.status_code == taken.status_code == 201, (fresh.content, taken.content)
    fresh_body, taken_body = fresh.json(), taken.json()
    assert set(fresh_body) == set(taken_body) and set(fresh_body["user"]) == set(taken_body["user"])
    assert "id" not in taken_body["user"] and taken_body["access_token"] is None
    assert {k: v for k, v in fresh_body["user"].items() if k != "email"} == {
        k: v for k, v in taken_body["user"].items() if k != "email"
    }
    # The owner hears about it; the account is untouched (its password still works).
    to_owner = [m for m in mail.outbox if m.to == [owner.email]]
    assert len(to_owner) == 1 and "already has one" in to_owner[0].body
    assert [m.to for m in mail.outbox if m.to != [owner.email]] == [["new@example.com"]]
    assert EndUser.objects.filter(project=project.project, email=owner.email).count() == 1
    login = client.post("/api/v1/auth/login", {"email": owner.email, "password": PASSWORD}, format="json")
    assert login.status_code == 403  # not verified yet, but the original password is the one that counts
    # The secret key still learns the truth: it manages accounts on purpose.
    admin = _signup(key_client(project.secret), owner.email)
    assert admin.status_code == 409


def test_regression_email_changes_spend_the_same_budget_as_sign_ups(project, signup, settings):
    """An anonymous upgrade needs no password: probing addresses through it is throttled like sign-up."""
    taken = signup(email="taken@example.com")
    settings.IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR = 3
    anonymous = key_client(project.publishable).post("/api/v1/auth/anonymous", {}, format="json").json()
    client = bearer_client(project.publishable, anonymous["access_token"])
    probe = {"email": taken.email, "password": PASSWORD}
    assert client.patch("/api/v1/auth/me", probe, format="json").status_code == 409
    assert client.patch("/api/v1/auth/me", probe, format="json").status_code == 429
    fresh = client.patch("/api/v1/auth/me", {"email": "free@example.com", "password": PASSWORD}, format="json")
    assert fresh.status_code == 429
    # Profile edits that do not touch the email never spend it.
    assert client.patch("/api/v1/auth/me", {"username": "anon_1"}, format="json").status_code == 200

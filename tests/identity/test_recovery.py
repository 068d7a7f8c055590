"""Email verification and password reset: mails, single-use hashed codes, revocation."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from basalt.identity.models import OneTimeToken
from basalt.projects.project_settings import update_settings

from .conftest import PASSWORD, key_client

# Mail leaves on commit, so these tests need real commits.
pytestmark = pytest.mark.django_db(transaction=True)


def _code(message) -> str:
    return re.search(r"code: (\S+)|token=(\S+)", message.body).group(1) or re.search(
        r"token=(\S+)", message.body
    ).group(1)


def test_verification_flow(project, user):
    """verify/request mails a code to the signed-in user's address; confirm marks it verified."""
    response = user.client.post("/api/v1/auth/verify/request", {}, format="json")
    assert response.status_code == 202
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    code = _code(mail.outbox[0])
    assert not OneTimeToken.objects.filter(token_hash=code).exists()  # stored hashed only
    confirmed = key_client(project.publishable).post("/api/v1/auth/verify/confirm", {"token": code}, format="json")
    assert confirmed.status_code == 200
    assert user.client.get("/api/v1/auth/me").json()["email_verified"] is True
    again = key_client(project.publishable).post("/api/v1/auth/verify/confirm", {"token": code}, format="json")
    assert again.status_code == 400


def test_verification_code_does_not_verify_a_changed_address(project, user):
    """A code proves the address it was sent to, not whatever the email is now."""
    user.client.post("/api/v1/auth/verify/request", {}, format="json")
    code = _code(mail.outbox[0])
    user.client.patch("/api/v1/auth/me", {"email": "other@example.com", "current_password": PASSWORD}, format="json")
    confirmed = key_client(project.publishable).post("/api/v1/auth/verify/confirm", {"token": code}, format="json")
    assert confirmed.status_code == 400
    assert user.client.get("/api/v1/auth/me").json()["email_verified"] is False


def test_reset_flow_revokes_every_session(project, user):
    """Reset mails a code; confirm sets the password and ends all sessions."""
    client = key_client(project.publishable)
    assert client.post("/api/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    code = _code(mail.outbox[0])
    weak = client.post("/api/v1/auth/password/reset/confirm", {"token": code, "password": "short"}, format="json")
    assert weak.status_code == 400  # and the code is not burnt by a weak password
    new = "Brand-new-passphrase-9"
    done = client.post("/api/v1/auth/password/reset/confirm", {"token": code, "password": new}, format="json")
    assert done.status_code == 204
    assert user.client.get("/api/v1/auth/me").status_code == 401
    old = client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert old.status_code == 401
    assert client.post("/api/v1/auth/login", {"email": user.email, "password": new}, format="json").status_code == 200
    reuse = client.post("/api/v1/auth/password/reset/confirm", {"token": code, "password": new + "x"}, format="json")
    assert reuse.status_code == 400


def test_reset_for_unknown_email_is_202_and_sends_nothing(publishable_client):
    response = publishable_client.post("/api/v1/auth/password/reset", {"email": "nobody@example.com"}, format="json")
    assert response.status_code == 202
    assert mail.outbox == []


def test_reset_code_of_another_project_is_refused(project, make_project, user):
    other = make_project()
    key_client(project.publishable).post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    code = _code(mail.outbox[0])
    response = key_client(other.publishable).post(
        "/api/v1/auth/password/reset/confirm", {"token": code, "password": "Brand-new-passphrase-9"}, format="json"
    )
    assert response.status_code == 400


def test_expired_reset_code_is_refused(project, user):
    from django.utils import timezone

    key_client(project.publishable).post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    OneTimeToken.objects.update(expires_at=timezone.now())
    response = key_client(project.publishable).post(
        "/api/v1/auth/password/reset/confirm",
        {"token": _code(mail.outbox[0]), "password": "Brand-new-passphrase-9"},
        format="json",
    )
    assert response.status_code == 400


def test_project_email_template_and_link_are_used_without_template_evaluation(project, user):
    """Overrides use {name} placeholders only: Django template syntax in them stays literal."""
    update_settings(
        project.project,
        {
            "auth": {
                "reset_url": "https://app.example.com/reset?token={token}",
                "email_templates": {
                    "reset": {"subject": "Reset for {email}", "body": "{{ settings.SECRET_KEY }} {link} {unknown}"}
                },
            }
        },
    )
    key_client(project.publishable).post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    message = mail.outbox[0]
    assert message.subject == f"Reset for {user.email}"
    assert message.body.startswith("{{ settings.SECRET_KEY }} https://app.example.com/reset?token=")
    assert message.body.endswith("{unknown}")


def test_reset_mails_are_capped_per_address(project, user):
    client = key_client(project.publishable)
    for _ in range(8):
        assert client.post("/api/v1/auth/password/reset", {"email": user.email}, format="json").status_code == 202
    assert len(mail.outbox) == 5


def test_require_verified_email_for_login(project, signup):
    """With verification required, sign-up returns no tokens and login answers 403 until verified."""
    update_settings(project.project, {"auth": {"require_verified_email_for_login": True}})
    client = key_client(project.publishable)
    response = client.post("/api/v1/auth/signup", {"email": "v@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    assert response.json()["access_token"] is None
    login = client.post("/api/v1/auth/login", {"email": "v@example.com", "password": PASSWORD}, format="json")
    assert login.status_code == 403
    assert login.json()["error"]["code"] == "email_not_verified"
    client.post("/api/v1/auth/verify/confirm", {"token": _code(mail.outbox[0])}, format="json")
    login = client.post("/api/v1/auth/login", {"email": "v@example.com", "password": PASSWORD}, format="json")
    assert login.status_code == 200

"""Emailed console account links open real pages: reset a forgotten password, activate an account.

Each test follows the link out of the mail Django sent, with the test client, as a person would."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from djoser.utils import encode_uid
from rest_framework.test import APIClient

from basalt.accounts.models import Account

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
NEW_PASSWORD = "an entirely different passphrase"


def _link(kind: str) -> str:
    """The console path the last email links to (`password/reset` or `activate`)."""
    found = re.search(rf"https?://[^/\s]+(/console/{kind}/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+)", mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found.group(1)


def _signs_in(email: str, password: str) -> bool:
    return Client().post("/console/signin", {"email": email, "password": password}).status_code == 302


def _api_tokens(email: str) -> dict:
    response = APIClient().post(
        "/api/v1/manage/auth/jwt/create/", {"email": email, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def _request_reset(client: Client, email: str):
    return client.post("/console/password/forgot", {"email": email})


def test_forgot_password_link_from_the_email_sets_a_new_password_and_ends_every_session(make_account):
    account = make_account("reset@example.com", PASSWORD)
    tokens = _api_tokens(account.email)
    other_browser = Client()
    other_browser.force_login(account, backend="django.contrib.auth.backends.ModelBackend")
    assert other_browser.get("/console/projects").status_code == 200

    client = Client()
    assert 'href="/console/password/forgot"' in client.get("/console/signin").content.decode()
    sent = _request_reset(client, account.email)
    assert sent.status_code == 200 and "Check your email" in sent.content.decode()
    link = _link("password/reset")

    form = client.get(link)
    assert form.status_code == 200 and 'name="re_new_password"' in form.content.decode()
    differ = client.post(link, {"new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD + "x"})
    assert differ.status_code == 400 and "The two passwords differ." in differ.content.decode()
    weak = client.post(link, {"new_password": "password", "re_new_password": "password"})
    assert weak.status_code == 400 and "too common" in weak.content.decode()

    done = client.post(link, {"new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD})
    assert done.status_code == 200 and "Password changed" in done.content.decode()
    assert _signs_in(account.email, NEW_PASSWORD)
    assert not _signs_in(account.email, PASSWORD)
    # Every session opened before the reset ended: the other browser and the API tokens.
    assert other_browser.get("/console/projects").status_code == 302
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert bearer.get("/api/v1/manage/projects").status_code == 401
    # The link is single-use.
    again = client.get(link)
    assert again.status_code == 400 and "invalid or has expired" in again.content.decode()


def _without_csrf(response) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', "", response.content.decode())


def test_forgot_password_answers_the_same_for_an_unknown_address(make_account):
    make_account("known@example.com", PASSWORD)
    known = _request_reset(Client(), "known@example.com")
    assert len(mail.outbox) == 1
    unknown = _request_reset(Client(), "nobody@example.com")
    assert len(mail.outbox) == 1
    assert known.status_code == unknown.status_code == 200
    assert _without_csrf(known) == _without_csrf(unknown)


@pytest.mark.parametrize("kind", ["password/reset", "activate"])
def test_dead_forged_and_malformed_links_get_a_clear_page_not_a_500(make_account, settings, kind):
    account = make_account("hostile@example.com", PASSWORD)
    uid, token = encode_uid(account.pk), default_token_generator.make_token(account)
    missing = encode_uid(account.pk + 1000)
    hostile = [
        f"{uid}/{token[:-1]}x",  # forged signature
        f"{uid}/{token.replace('-', '')}",  # no timestamp part
        f"{missing}/{token}",  # no such account
        f"{encode_uid('not-a-number')}/{token}",  # a uid that decodes to text
        f"QUJD_-/{token}",  # a uid that is not base64 of anything
        f"{uid}/{'9' * 100}",
    ]
    client = Client()
    for path in hostile:
        for response in (client.get(f"/console/{kind}/{path}"), client.post(f"/console/{kind}/{path}", {})):
            assert response.status_code == 400, (path, response.status_code)
            assert "invalid or has expired" in response.content.decode()
    settings.PASSWORD_RESET_TIMEOUT = -1  # every token is now expired
    expired = client.post(
        f"/console/{kind}/{uid}/{token}", {"new_password": NEW_PASSWORD, "re_new_password": NEW_PASSWORD}
    )
    assert expired.status_code == 400
    account.refresh_from_db()
    assert account.check_password(PASSWORD)


def test_activation_link_from_the_console_sign_up_email_activates_the_account(settings):
    settings.CONSOLE_SIGNUP_OPEN = True
    settings.DJOSER = {**settings.DJOSER, "SEND_ACTIVATION_EMAIL": True}
    client = Client()
    signed_up = client.post("/console/signup", {"email": "fresh@example.com", "password": NEW_PASSWORD})
    assert signed_up.status_code == 200 and "Confirm your email" in signed_up.content.decode()
    assert not Account.objects.get(email="fresh@example.com").is_active
    assert not _signs_in("fresh@example.com", NEW_PASSWORD)

    link = _link("activate")
    activated = client.get(link)
    assert activated.status_code == 200 and "Account activated" in activated.content.decode()
    assert Account.objects.get(email="fresh@example.com").is_active
    # A used link says so instead of failing; once the account signed in, the link is dead.
    used = client.get(link)
    assert used.status_code == 200 and "already active" in used.content.decode()
    assert _signs_in("fresh@example.com", NEW_PASSWORD)
    assert client.get(link).status_code == 400

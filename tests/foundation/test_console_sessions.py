"""Console sessions: refresh tokens rotate with reuse detection; a password change or reset and
"sign out everywhere" end every API token and console web session of the account at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.foundation.conftest import assert_error

pytestmark = pytest.mark.django_db

AUTH = "/api/v1/manage/auth/"
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "an entirely different passphrase"


def sign_in(email: str, password: str = PASSWORD, address: str = "198.51.100.1") -> dict:
    response = APIClient(REMOTE_ADDR=address).post(
        AUTH + "jwt/create/", {"email": email, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(token: str):
    return APIClient().post(AUTH + "jwt/refresh/", {"refresh": token}, format="json")


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def projects(access: str):
    return bearer(access).get("/api/v1/manage/projects")


def web_session(email: str, password: str = PASSWORD) -> Client:
    client = Client()
    assert client.post("/console/signin", {"email": email, "password": password}).status_code == 302
    assert client.get("/console/projects").status_code == 200
    return client


def assert_signed_out(tokens: dict) -> None:
    assert_error(projects(tokens["access"]), 401, "invalid_token")
    assert_error(refresh(tokens["refresh"]), 401, "invalid_token")


def assert_web_signed_out(client: Client) -> None:
    response = client.get("/console/projects")
    assert response.status_code == 302 and response["Location"].startswith("/console/signin")


@pytest.fixture
def owner(make_account):
    return make_account("owner@example.com", PASSWORD)


def test_password_change_ends_every_console_session(owner):
    """The old access token and refresh token (of this and every other sign-in) and the console's web
    session stop working the moment set_password succeeds; the new password signs in."""
    laptop, phone = sign_in(owner.email), sign_in(owner.email)
    browser = web_session(owner.email)
    changed = bearer(laptop["access"]).post(
        AUTH + "users/set_password/", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}, format="json"
    )
    assert changed.status_code == 204, changed.content
    assert_signed_out(laptop)
    assert_signed_out(phone)
    assert_web_signed_out(browser)
    fresh = sign_in(owner.email, NEW_PASSWORD)
    assert projects(fresh["access"]).status_code == 200


def test_password_reset_ends_every_console_session(owner):
    from django.contrib.auth.tokens import default_token_generator
    from djoser.utils import encode_uid

    tokens = sign_in(owner.email)
    browser = web_session(owner.email)
    owner.refresh_from_db()  # the emailed token is made from the stored row (last_login included)
    body = {
        "uid": encode_uid(owner.pk),
        "token": default_token_generator.make_token(owner),
        "new_password": NEW_PASSWORD,
    }
    assert APIClient().post(AUTH + "users/reset_password_confirm/", body, format="json").status_code == 204
    assert_signed_out(tokens)
    assert_web_signed_out(browser)
    assert projects(sign_in(owner.email, NEW_PASSWORD)["access"]).status_code == 200


def test_password_set_from_a_shell_ends_every_console_session(owner):
    """Every path that stores a new password (here: the model, as `changepassword` does) revokes."""
    from basalt.accounts.models import Account

    tokens = sign_in(owner.email)
    account = Account.objects.get(pk=owner.pk)
    account.set_password(NEW_PASSWORD)
    account.save()
    assert_signed_out(tokens)


def test_email_change_ends_every_other_console_session(owner):
    """A new address (set_username) ends every API token and web session, like a password change:
    someone signed in under the old address does not keep the account; the owner signs in anew."""
    laptop, phone = sign_in(owner.email), sign_in(owner.email)
    browser = web_session(owner.email)
    changed = bearer(laptop["access"]).post(
        AUTH + "users/set_email/", {"current_password": PASSWORD, "new_email": "moved@example.com"}, format="json"
    )
    assert changed.status_code == 204, changed.content
    assert_signed_out(laptop)
    assert_signed_out(phone)
    assert_web_signed_out(browser)
    assert projects(sign_in("moved@example.com")["access"]).status_code == 200


def test_email_set_from_a_shell_ends_sessions_but_other_saves_do_not(owner):
    """The rule lives on the model: any path that stores a new address revokes; saving other fields
    (or the same address) leaves sessions alone."""
    from basalt.accounts.models import Account

    tokens = sign_in(owner.email)
    account = Account.objects.get(pk=owner.pk)
    account.name = "Renamed"
    account.save()
    account.save(update_fields=["name"])
    assert projects(tokens["access"]).status_code == 200
    account.email = "elsewhere@example.com"
    account.save(update_fields=["email"])
    assert_signed_out(tokens)


def test_refresh_rotates_and_reuse_of_a_spent_token_ends_the_session(owner):
    first = sign_in(owner.email)
    rotated = refresh(first["refresh"])
    assert rotated.status_code == 200, rotated.content
    second = rotated.json()
    assert set(second) == {"access", "refresh"} and second["refresh"] != first["refresh"]
    assert projects(second["access"]).status_code == 200

    # The spent token again: refused, and the whole family with it (the thief's and the owner's).
    assert_error(refresh(first["refresh"]), 401, "invalid_token")
    assert_error(refresh(second["refresh"]), 401, "invalid_token")
    assert_error(projects(second["access"]), 401, "invalid_token")
    # Other sign-ins of the account are a different family and keep working.
    other = sign_in(owner.email)
    assert projects(other["access"]).status_code == 200


def test_sign_out_everywhere_ends_api_tokens_and_web_sessions(owner):
    tokens, other = sign_in(owner.email), sign_in(owner.email)
    browser = web_session(owner.email)
    response = bearer(tokens["access"]).post(AUTH + "logout/all/")
    assert response.status_code == 204, response.content
    assert_signed_out(tokens)
    assert_signed_out(other)
    assert_web_signed_out(browser)
    assert projects(sign_in(owner.email)["access"]).status_code == 200
    assert web_session(owner.email).get("/console/projects").status_code == 200


def test_sign_out_ends_only_this_session(owner):
    tokens, other = sign_in(owner.email), sign_in(owner.email)
    assert bearer(tokens["access"]).post(AUTH + "logout").status_code == 204
    assert_signed_out(tokens)
    assert projects(other["access"]).status_code == 200
    assert refresh(other["refresh"]).status_code == 200


def test_sign_out_needs_a_token(api):
    assert_error(api.post(AUTH + "logout/all/"), 401, "unauthenticated")
    assert_error(api.post(AUTH + "logout/"), 401, "unauthenticated")


def test_a_stale_account_copy_saved_later_does_not_revive_revoked_sessions(owner):
    """The token generation is only ever incremented in the database, never written from memory."""
    from basalt.accounts.models import Account

    stale = Account.objects.get(pk=owner.pk)
    tokens = sign_in(owner.email)
    browser = web_session(owner.email)
    assert bearer(tokens["access"]).post(AUTH + "logout/all/").status_code == 204
    stale.name = "Renamed from an old copy"
    stale.save()
    assert_web_signed_out(browser)
    assert_signed_out(tokens)
    assert Account.objects.get(pk=owner.pk).name == "Renamed from an old copy"


def test_a_password_hash_upgrade_is_not_a_password_change(owner, settings):
    """Raising the Argon2 cost rehashes at the next sign-in; that must not sign anyone out."""
    tokens = sign_in(owner.email)
    settings.ARGON2_TIME_COST = 2
    sign_in(owner.email)
    owner.refresh_from_db()
    assert "t=2" in owner.password
    assert projects(tokens["access"]).status_code == 200
    assert refresh(tokens["refresh"]).status_code == 200


def test_a_token_without_a_session_is_refused(owner):
    """A correctly signed console token that names no live session (as minted before sessions) is refused."""
    from rest_framework_simplejwt.tokens import RefreshToken

    assert_error(projects(str(RefreshToken.for_user(owner).access_token)), 401, "invalid_token")


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_let_at_most_one_through(make_account):
    """Parallel exchanges of one refresh token: never two winners (the row is locked)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL only")
    account = make_account("race@example.com", PASSWORD)
    tokens = sign_in(account.email)
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def exchange():
        try:
            barrier.wait()
            statuses.append(refresh(tokens["refresh"]).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=exchange) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) <= 1 and len(statuses) == 8
    assert set(statuses) <= {200, 401}


@pytest.mark.parametrize(
    ("uid", "password", "field"),
    [("good", "password", "new_password"), ("bad", NEW_PASSWORD, "uid"), ("good", NEW_PASSWORD, "token")],
)
def test_password_reset_confirm_answers_validation_errors_not_500(owner, uid, password, field):
    """djoser validated the new password against the anonymous user (None here): every confirm was a 500."""
    from djoser.utils import encode_uid

    body = {"uid": encode_uid(owner.pk) if uid == "good" else "zz", "token": "1-bad", "new_password": password}
    error = assert_error(
        APIClient().post(AUTH + "users/reset_password_confirm/", body, format="json"), 400, "validation_failed"
    )
    assert field in error["details"]


def test_ended_console_sessions_are_purged_after_a_week(owner):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework_simplejwt.tokens import AccessToken

    from basalt.accounts.models import ConsoleSession
    from basalt.accounts.tasks import purge_console_sessions

    live, old, recent = (AccessToken(sign_in(owner.email)["access"]) for _ in range(3))
    ConsoleSession.objects.filter(pk=old["sid"]).update(revoked_at=timezone.now() - timedelta(days=8))
    ConsoleSession.objects.filter(pk=recent["sid"]).update(revoked_at=timezone.now() - timedelta(days=1))
    assert purge_console_sessions() == 1
    assert set(ConsoleSession.objects.values_list("pk", flat=True)) == {live["sid"], recent["sid"]}
    assert projects(str(live)).status_code == 200


def test_console_sign_out_everywhere_button_ends_other_sessions(owner):
    tokens = sign_in(owner.email)
    elsewhere = web_session(owner.email)
    here = web_session(owner.email)
    page = here.get("/console/projects").content.decode()
    assert 'name="everywhere"' in page and "Sign out everywhere" in page
    assert here.post("/console/signout", {"everywhere": "1"}).status_code == 302
    assert_web_signed_out(here)
    assert_web_signed_out(elsewhere)
    assert_signed_out(tokens)


def test_plain_console_sign_out_ends_only_this_browser(owner):
    tokens = sign_in(owner.email)
    elsewhere = web_session(owner.email)
    here = web_session(owner.email)
    assert here.post("/console/signout").status_code == 302
    assert_web_signed_out(here)
    assert elsewhere.get("/console/projects").status_code == 200
    assert projects(tokens["access"]).status_code == 200

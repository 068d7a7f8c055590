"""Console accounts (API.md §8): sign-up, JWT sign-in, Argon2, throttling, and token separation."""

from __future__ import annotations

import base64
import datetime as dt
import json

import jwt
import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from tests.foundation.conftest import assert_error

pytestmark = pytest.mark.django_db

AUTH = "/api/v1/manage/auth/"
PASSWORD = "correct horse battery staple"


def signup(client: APIClient, email: str, password: str = PASSWORD):
    return client.post(AUTH + "users/", {"email": email, "password": password}, format="json")


def sign_in(client: APIClient, email: str, password: str = PASSWORD, slash: str = "/"):
    return client.post(AUTH + "jwt/create" + slash, {"email": email, "password": password}, format="json")


def test_signup_signin_refresh_me_round_trip(api):
    """Sign-up normalises the email; the tokens it leads to reach users/me and the management API."""
    created = signup(api, "  Ada.Lovelace@Example.COM ")
    assert created.status_code == 201, created.content
    assert created.json()["email"] == "ada.lovelace@example.com"
    assert "password" not in created.json()

    tokens = sign_in(api, "ADA.LOVELACE@example.com")
    assert tokens.status_code == 200, tokens.content
    assert set(tokens.json()) == {"access", "refresh"}

    refreshed = api.post(AUTH + "jwt/refresh/", {"refresh": tokens.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200 and refreshed.json()["access"]

    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
    answer = me.get(AUTH + "users/me/")
    assert answer.status_code == 200
    assert answer.json()["email"] == "ada.lovelace@example.com"
    assert me.get("/api/v1/manage/projects").status_code == 200


def test_password_is_stored_with_argon2():
    from basalt.accounts.models import Account

    signup(APIClient(), "hash@example.com")
    account = Account.objects.get(email="hash@example.com")
    assert account.password.startswith("argon2$argon2id$")
    assert PASSWORD not in account.password
    assert account.check_password(PASSWORD)
    assert not account.check_password(PASSWORD + "x")


@pytest.mark.parametrize("spelling", ["dup@example.com", "DUP@Example.com", " dup@example.com "])
def test_duplicate_email_is_refused_without_details(api, spelling):
    """A second sign-up for one address, in any letter case, is a 400 that names only the field."""
    from basalt.accounts.models import Account

    assert signup(api, "dup@example.com").status_code == 201
    error = assert_error(signup(api, spelling), 400, "validation_failed")
    assert set(error["details"]) == {"email"}
    text = json.dumps(error)
    first = Account.objects.get(email="dup@example.com")
    assert f'"id": {first.pk}' not in text and "date_joined" not in text
    assert Account.objects.filter(email__iexact="dup@example.com").count() == 1


@pytest.mark.parametrize("password", ["password", "12345678901", "short", "dup@example.com"])
def test_weak_password_is_refused(api, password):
    from basalt.accounts.models import Account

    error = assert_error(signup(api, "weak@example.com", password), 400, "validation_failed")
    assert "password" in error["details"]
    assert not Account.objects.filter(email="weak@example.com").exists()


@pytest.mark.parametrize(
    "body",
    [{"email": 123, "password": PASSWORD}, {"email": ["a@b.co"], "password": PASSWORD}, {"email": "not-an-email"}, {}],
)
def test_signup_with_wrong_types_is_validation_failed(api, body):
    assert_error(api.post(AUTH + "users/", body, format="json"), 400, "validation_failed")


def test_signup_ignores_privilege_fields(api):
    from basalt.accounts.models import Account

    body = {"email": "sneaky@example.com", "password": PASSWORD, "is_staff": True, "is_superuser": True}
    assert api.post(AUTH + "users/", body, format="json").status_code == 201
    account = Account.objects.get(email="sneaky@example.com")
    assert not account.is_staff and not account.is_superuser


def test_closed_signup_is_permission_denied(api, settings):
    from basalt.accounts.models import Account

    settings.CONSOLE_SIGNUP_OPEN = False
    assert_error(signup(api, "late@example.com"), 403, "permission_denied")
    assert not Account.objects.filter(email="late@example.com").exists()


def test_wrong_password_and_unknown_account_answer_alike(api, make_account):
    make_account("known@example.com", PASSWORD)
    wrong = assert_error(sign_in(api, "known@example.com", "not the password"), 401, "invalid_credentials")
    unknown = assert_error(sign_in(api, "nobody@example.com"), 401, "invalid_credentials")
    assert wrong == unknown


def test_sign_in_is_throttled_per_address_across_slash_variants(make_account, settings):
    """Ten attempts a minute from one address; the 11th is 429 with Retry-After, slash or no slash."""
    settings.CONSOLE_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = 100  # the rate, not the failure lock
    make_account("target@example.com", PASSWORD)
    client = APIClient(REMOTE_ADDR="203.0.113.7")
    for attempt in range(10):
        response = sign_in(client, "target@example.com", f"guess-{attempt}", slash="/" if attempt % 2 else "")
        assert response.status_code == 401, (attempt, response.content)
    for slash in ("/", ""):
        limited = sign_in(client, "target@example.com", PASSWORD, slash=slash)
        assert_error(limited, 429, "rate_limited")
        assert int(limited["Retry-After"]) >= 1
    # Another address is not limited by the first one's attempts.
    assert sign_in(APIClient(REMOTE_ADDR="203.0.113.8"), "target@example.com").status_code == 200


def test_api_sign_in_failures_lock_the_guessing_address_not_the_account(make_account):
    """Five wrong passwords from one address lock that address out of that account (429, even with
    the right password); the owner signs in from any other address."""
    make_account("locked@example.com", PASSWORD)
    guesser = APIClient(REMOTE_ADDR="203.0.113.20")
    for attempt in range(5):
        assert_error(sign_in(guesser, "locked@example.com", f"guess-{attempt}"), 401, "invalid_credentials")
    refused = sign_in(guesser, "LOCKED@example.com")
    assert_error(refused, 429, "rate_limited")
    assert 0 < int(refused["Retry-After"]) <= 15 * 60
    assert sign_in(APIClient(REMOTE_ADDR="203.0.113.21"), "locked@example.com").status_code == 200


def test_api_and_console_form_share_one_failure_budget(make_account):
    """Switching from the console form to the API does not buy a guesser fresh attempts."""
    from django.test import Client

    make_account("shared@example.com", PASSWORD)
    form = Client(REMOTE_ADDR="203.0.113.30")
    for _ in range(5):
        assert (
            form.post("/console/signin", {"email": "shared@example.com", "password": "bad guess!"}).status_code == 400
        )
    assert_error(sign_in(APIClient(REMOTE_ADDR="203.0.113.30"), "shared@example.com"), 429, "rate_limited")


# --- tokens: console vs end-user, forged, expired ---------------------------------------------


def _console_access(account) -> str:
    from basalt.accounts import sessions

    return sessions.start(account).access


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forgeries(account) -> dict[str, str]:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {
        "token_type": "access",
        "account_id": str(account.pk),
        "aud": "basalt-console",
        "exp": now + 300,
        "iat": now,
        "jti": "x",
    }
    alg_none = _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."
    return {
        "wrong key": jwt.encode(claims, "not-the-secret-key-but-long-enough-000", algorithm="HS256"),
        "alg none": alg_none,
        "wrong audience": jwt.encode({**claims, "aud": "some-project"}, django_settings.SECRET_KEY, algorithm="HS256"),
        "no audience": jwt.encode(
            {k: v for k, v in claims.items() if k != "aud"}, django_settings.SECRET_KEY, algorithm="HS256"
        ),
        "refresh as access": jwt.encode({**claims, "token_type": "refresh"}, django_settings.SECRET_KEY, "HS256"),
        "garbage": "abc.def.ghi",
        "tampered": _console_access(account)[:-3] + "AAA",
    }


@pytest.mark.parametrize(
    "kind", ["wrong key", "alg none", "wrong audience", "no audience", "refresh as access", "garbage", "tampered"]
)
def test_forged_console_tokens_are_refused(api, make_account, kind):
    account = make_account()
    token = _forgeries(account)[kind]
    response = api.get("/api/v1/manage/projects", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(response, 401, "invalid_token")


def test_expired_console_token_is_token_expired(api, make_account):
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(make_account())
    token.set_exp(lifetime=-dt.timedelta(seconds=1))
    assert_error(api.get("/api/v1/manage/projects", HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "token_expired")


def test_token_of_a_deactivated_account_stops_working(api, make_account):
    account = make_account()
    token = _console_access(account)
    account.is_active = False
    account.save()
    assert_error(api.get("/api/v1/manage/projects", HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "invalid_token")


def test_missing_console_token_is_unauthenticated(api):
    response = api.get("/api/v1/manage/projects")
    assert_error(response, 401, "unauthenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_console_token_is_not_an_end_user_token(api, project):
    """A console JWT sent as the bearer of a data-API request is refused, not ignored."""
    token = _console_access(project.owner)
    response = api.get("/api/v1/project", HTTP_X_API_KEY=project.secret, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(response, 401, "invalid_token")
    response = api.get("/api/v1/auth/me", HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401, response.content


def test_end_user_token_is_not_a_console_token(api, project):
    """An app end-user's access token from /auth/signup is refused by the management API."""
    answer = api.post(
        "/api/v1/auth/signup",
        {"email": "enduser@example.com", "password": PASSWORD},
        format="json",
        HTTP_X_API_KEY=project.publishable,
    )
    if answer.status_code != 201:
        pytest.skip(f"end-user sign-up not available yet ({answer.status_code})")
    token = answer.json()["access_token"]
    response = api.get("/api/v1/manage/projects", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_error(response, 401, "invalid_token")
    # A token minted with the server secret but an end-user audience is refused as well.
    forged = jwt.encode(
        {"token_type": "access", "account_id": str(project.owner.pk), "aud": project.project.ref, "exp": 4102444800},
        django_settings.SECRET_KEY,
        algorithm="HS256",
    )
    assert_error(api.get("/api/v1/manage/projects", HTTP_AUTHORIZATION=f"Bearer {forged}"), 401, "invalid_token")


def test_account_deletion_keeps_projects_owned(api, project, make_account):
    """The only owner of a project cannot delete their account; an account without projects can."""
    from basalt.accounts.models import Account
    from tests.conftest import console_client_for

    owner = console_client_for(project.owner)
    response = owner.delete(AUTH + "users/me/", {"current_password": "correct horse battery"}, format="json")
    assert_error(response, 409, "conflict")
    assert Account.objects.filter(pk=project.owner.pk).exists()

    loner = make_account(password="correct horse battery")
    response = console_client_for(loner).delete(
        AUTH + "users/me/", {"current_password": "correct horse battery"}, format="json"
    )
    assert response.status_code == 204
    assert not Account.objects.filter(pk=loner.pk).exists()


def test_email_change_cannot_take_another_accounts_address(make_account):
    from tests.conftest import console_client_for

    make_account("taken@example.com")
    mover = make_account("mover@example.com", "correct horse battery")
    response = console_client_for(mover).post(
        AUTH + "users/set_email/",
        {"new_email": "TAKEN@example.com", "current_password": "correct horse battery"},
        format="json",
    )
    assert_error(response, 400, "validation_failed")
    mover.refresh_from_db()
    assert mover.email == "mover@example.com"


def test_forged_forwarded_for_does_not_reset_the_sign_in_limit(make_account):
    """With no trusted proxy configured, X-Forwarded-For is the client's word and is ignored."""
    make_account("xff@example.com", PASSWORD)
    for attempt in range(5):
        client = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}")
        assert sign_in(client, "xff@example.com", "wrong").status_code == 401
    client = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="198.51.100.200")
    assert_error(sign_in(client, "xff@example.com"), 429, "rate_limited")


def test_password_reset_mails_are_throttled(make_account):
    make_account("reset@example.com", PASSWORD)
    client = APIClient(REMOTE_ADDR="203.0.113.10")
    statuses = [
        client.post(AUTH + "users/reset_password/", {"email": "reset@example.com"}, format="json").status_code
        for _ in range(21)
    ]
    assert statuses[:20] == [204] * 20
    assert statuses[20] == 429

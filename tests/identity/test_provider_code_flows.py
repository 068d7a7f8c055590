"""GitHub and OIDC code flows (Authlib in the product) against the loopback provider: the direct
`{code, code_verifier, redirect_uri}` sign-in and the browser flow authorize → provider →
callback → `redirect_to?code=` → exchange, with state single-use and bound to the browser."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from rest_framework.test import APIClient

from basalt.identity.models import EndUser, LinkedIdentity

from .conftest import key_client
from .provider_fixtures import GITHUB_CLIENT, OIDC_CLIENT, REDIRECT

pytestmark = pytest.mark.django_db

GH_USER = {
    "id": 4242,
    "login": "octo",
    "name": "Octo Cat",
    "emails": [
        {"email": "other@example.com", "primary": False, "verified": True},
        {"email": "Octo@Example.com", "primary": True, "verified": True},
    ],
}


def _code(standin, client_id, user, verifier, redirect_uri=REDIRECT):
    return standin.issue_code(
        client_id=client_id, redirect_uri=redirect_uri, code_challenge=standin.s256(verifier), user=user
    )


def _post(project, provider, body):
    return key_client(project.publishable).post(f"/api/v1/auth/providers/{provider}", body, format="json")


def test_github_code_with_pkce_signs_in(project, providers):
    verifier = secrets.token_urlsafe(48)
    code = _code(providers, GITHUB_CLIENT, GH_USER, verifier)
    response = _post(project, "github", {"code": code, "code_verifier": verifier, "redirect_uri": REDIRECT})
    assert response.status_code == 200, response.content
    assert response.json()["user"]["email"] == "octo@example.com"
    assert response.json()["user"]["email_verified"] is True
    linked = LinkedIdentity.objects.get()
    assert (linked.provider, linked.subject, linked.profile["login"]) == ("github", "4242", "octo")


def test_github_bad_code_is_200_with_error_body_mapped_to_401(project, providers):
    verifier = secrets.token_urlsafe(48)
    response = _post(project, "github", {"code": "nope", "code_verifier": verifier, "redirect_uri": REDIRECT})
    assert response.status_code == 401
    assert response.json()["error"]["details"]["provider_error"] == "bad_verification_code"
    # The right code with the wrong verifier (PKCE) is refused by the provider, and so by us.
    code = _code(providers, GITHUB_CLIENT, GH_USER, verifier)
    other = secrets.token_urlsafe(48)
    response = _post(project, "github", {"code": code, "code_verifier": other, "redirect_uri": REDIRECT})
    assert response.status_code == 401
    assert not EndUser.objects.exists()


def test_code_sign_in_needs_verifier_and_an_allowed_redirect_uri(project, providers):
    verifier = secrets.token_urlsafe(48)
    for body in (
        {"code": "c", "redirect_uri": REDIRECT},
        {"code": "c", "code_verifier": "short", "redirect_uri": REDIRECT},
        {"code": "c", "code_verifier": verifier, "redirect_uri": "https://evil.example.com/x"},
        {"code": "c", "code_verifier": verifier, "redirect_uri": REDIRECT + "/more"},
    ):
        for provider in ("github", "oidc"):
            response = _post(project, provider, body)
            assert response.status_code == 400, (provider, body)


def test_oidc_code_flow_reads_the_id_token(project, providers):
    verifier = secrets.token_urlsafe(48)
    user = {"sub": "oidc-7", "email": "seven@example.com", "email_verified": True, "name": "Seven"}
    code = _code(providers, OIDC_CLIENT, user, verifier)
    response = _post(project, "oidc", {"code": code, "code_verifier": verifier, "redirect_uri": REDIRECT})
    assert response.status_code == 200, response.content
    assert LinkedIdentity.objects.get().subject == "oidc-7"
    # A code is spent once.
    assert (
        _post(project, "oidc", {"code": code, "code_verifier": verifier, "redirect_uri": REDIRECT}).status_code == 401
    )


def test_token_endpoint_timeout_is_503(project, providers, settings):
    settings.IDENTITY_PROVIDER_TIMEOUT = 0.3
    verifier = secrets.token_urlsafe(48)
    code = _code(providers, GITHUB_CLIENT, GH_USER, verifier)
    providers.delay = 1.0
    try:
        response = _post(project, "github", {"code": code, "code_verifier": verifier, "redirect_uri": REDIRECT})
    finally:
        providers.delay = 0.0
    assert response.status_code == 503 and response.json()["error"]["code"] == "provider_unavailable"


def _browser_sign_in(project, standin, provider, user, browser=None):
    """What a browser does: follow the redirects, carrying the binding cookie."""
    browser = browser or APIClient()
    standin.next_user = user
    start = browser.get(
        f"/api/v1/auth/providers/{provider}/authorize", {"redirect_to": REDIRECT, "apikey": project.publishable}
    )
    assert start.status_code == 302, start.content
    at_provider = httpx.get(start["Location"], follow_redirects=False)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    return browser, back.path, query


def _finish(browser, path, query):
    response = browser.get(path, query)
    assert response.status_code == 302, response.content
    target = urlsplit(response["Location"])
    return f"{target.scheme}://{target.netloc}{target.path}", {k: v[0] for k, v in parse_qs(target.query).items()}


@pytest.mark.parametrize("provider", ["github", "oidc"])
def test_browser_flow_redirects_with_a_one_time_code(project, providers, provider):
    user = GH_USER if provider == "github" else {"sub": "b-1", "email": "b1@example.com", "email_verified": True}
    browser, path, query = _browser_sign_in(project, providers, provider, user)
    assert path == f"/api/v1/auth/providers/{provider}/callback"
    where, params = _finish(browser, path, query)
    assert where == REDIRECT and "code" in params, params
    client = key_client(project.publishable)
    signed = client.post("/api/v1/auth/providers/exchange", {"code": params["code"]}, format="json")
    assert signed.status_code == 200, signed.content
    assert signed.json()["access_token"]
    # The one-time code and the state are both single use.
    assert client.post("/api/v1/auth/providers/exchange", {"code": params["code"]}, format="json").status_code == 401
    assert browser.get(path, query).status_code == 401


def test_state_is_bound_to_the_browser_that_started(project, providers):
    _, path, query = _browser_sign_in(project, providers, "github", GH_USER)
    stranger = APIClient()  # no binding cookie: a login-CSRF victim's browser
    response = stranger.get(path, query)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_token"
    assert not EndUser.objects.exists()


def test_state_of_one_provider_does_not_finish_another(project, providers):
    browser, path, query = _browser_sign_in(project, providers, "github", GH_USER)
    assert browser.get("/api/v1/auth/providers/oidc/callback", query).status_code == 401


def test_redirect_to_is_matched_exactly(project, providers):
    browser = APIClient()
    for target in (
        "https://evil.example.com/",
        REDIRECT + "/../../evil",
        REDIRECT + "?x=1",
        "https://app.example.com.evil.io/after-sign-in",
        "//evil.example.com",
        "",
    ):
        response = browser.get(
            "/api/v1/auth/providers/github/authorize", {"redirect_to": target, "apikey": project.publishable}
        )
        assert response.status_code == 400, target
        assert response.json()["error"]["code"] == "validation_failed"
    assert browser.get("/api/v1/auth/providers/github/authorize", {"redirect_to": REDIRECT}).status_code == 401
    assert (
        browser.get("/api/v1/auth/providers/google/authorize", {"redirect_to": REDIRECT, "apikey": project.publishable})
    ).status_code == 400  # ID-token providers have no redirect flow


def test_callback_account_exists_redirects_with_an_error(project, providers, signup):
    signup(email="octo@example.com")
    browser, path, query = _browser_sign_in(project, providers, "github", GH_USER)
    where, params = _finish(browser, path, query)
    assert where == REDIRECT and params == {"error": "account_exists"}


def test_garbage_callbacks_and_exchanges_are_clear_errors(project, providers):
    browser = APIClient()
    for query in ({}, {"state": "x"}, {"state": "a" * 5000, "code": "c"}, {"state": ["a", "b"]}):
        response = browser.get("/api/v1/auth/providers/github/callback", query)
        assert response.status_code == 400, query
        assert response.json()["error"]["code"] == "validation_failed"
    unknown = browser.get("/api/v1/auth/providers/github/callback", {"state": "s" * 43, "code": "c"})
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_token"
    client = key_client(project.publishable)
    for body in ({}, {"code": 5}, {"code": "x" * 10_000}, [1]):
        response = client.post("/api/v1/auth/providers/exchange", body, format="json")
        assert response.status_code in (400, 401), body


def test_callback_when_the_provider_times_out_redirects_with_provider_unavailable(project, providers, settings):
    browser, path, query = _browser_sign_in(project, providers, "github", GH_USER)
    settings.IDENTITY_PROVIDER_TIMEOUT = 0.3
    providers.delay = 1.0
    try:
        where, params = _finish(browser, path, query)
    finally:
        providers.delay = 0.0
    assert where == REDIRECT and params == {"error": "provider_unavailable"}
    assert not EndUser.objects.exists()

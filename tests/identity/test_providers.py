"""Sign-in with ID tokens (Google, Apple, Firebase, generic OIDC) against a loopback provider.

The product's real verifiers run: PyJWT's JWKS client and firebase-admin's `verify_id_token`,
fetching keys over HTTP from `provider_standin`. SECURITY.md T7: every forgery is refused and
leaves no user or link behind.
"""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from basalt.identity.models import EndUser, LinkedIdentity

from .conftest import PASSWORD, key_client
from .provider_fixtures import APPLE_CLIENT, GOOGLE_CLIENT, OIDC_CLIENT, firebase_token, google_token

pytestmark = pytest.mark.django_db(transaction=False)

ISSUERS = {
    "google": lambda s: ("https://accounts.google.com", GOOGLE_CLIENT),
    "apple": lambda s: ("https://appleid.apple.com", APPLE_CLIENT),
    "oidc": lambda s: (s.oidc_issuer, OIDC_CLIENT),
    "firebase": lambda s: (f"https://securetoken.google.com/{s.firebase_project}", s.firebase_project),
}


def _claims(standin, provider, sub="s-1", **extra):
    iss, aud = ISSUERS[provider](standin)
    claims = standin.claims(iss, aud, sub=sub, email=f"{sub}@example.com", email_verified=True, **extra)
    if provider == "firebase":
        claims["auth_time"] = claims["iat"]
    return claims


def _sign_in(project, provider, body):
    return key_client(project.publishable).post(f"/api/v1/auth/providers/{provider}", body, format="json")


@pytest.mark.parametrize("provider", ["google", "apple", "oidc", "firebase"])
def test_first_sign_in_creates_the_user_and_later_ones_find_it(project, providers, provider):
    token = providers.mint(_claims(providers, provider, sub="alice"))
    first = _sign_in(project, provider, {"id_token": token})
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["access_token"] and body["refresh_token"]
    assert body["user"]["email"] == "alice@example.com" and body["user"]["email_verified"] is True
    again = _sign_in(project, provider, {"id_token": providers.mint(_claims(providers, provider, sub="alice"))})
    assert again.status_code == 200
    assert again.json()["user"]["id"] == body["user"]["id"]
    assert EndUser.objects.filter(project=project.project).count() == 1
    me = key_client(project.publishable)
    me.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    listed = me.get("/api/v1/auth/me/identities").json()["results"]
    assert [(i["provider"], i["subject"]) for i in listed] == [(provider, "alice")]


def _forgeries(standin, provider):
    good = _claims(standin, provider, sub="mallory")
    iss, aud = ISSUERS[provider](standin)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = standin.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    unsigned = jwt.encode(good, None, algorithm="none", headers={"kid": "rsa1"})
    hs256 = jwt.api_jws.PyJWS()
    hs256._algorithms["HS256"].prepare_key = lambda key: key  # forge: HMAC keyed with the public PEM
    forged_hs = hs256.encode(
        jwt.utils.force_bytes(__import__("json").dumps(good)), public_pem, algorithm="HS256", headers={"kid": "rsa1"}
    )
    return {
        "forged signature": standin.mint(good, kid="rsa1", key=stranger),
        "alg none": unsigned,
        "HS256 with the public key": forged_hs,
        "wrong iss": standin.mint({**good, "iss": "https://evil.example.com"}),
        "wrong aud": standin.mint({**good, "aud": "someone-else"}),
        "expired": standin.mint({**good, "iat": now - 7200, "exp": now - 3600}),
        "issued in the future": standin.mint({**good, "iat": now + 3600, "exp": now + 7200}),
        "unknown kid": standin.mint(good, kid="nope", key=stranger),
        "no sub": standin.mint({k: v for k, v in good.items() if k != "sub"}),
        "malformed": "eyJhbGciOiJSUzI1NiJ9.not-base64!.x",
        "garbage": "garbage",
        "three dots": "a.b.c.d",
    }


@pytest.mark.parametrize("provider", ["google", "apple", "oidc", "firebase"])
def test_t7_forged_tokens_are_refused_and_create_nothing(project, providers, provider):
    for name, token in _forgeries(providers, provider).items():
        response = _sign_in(project, provider, {"id_token": token})
        assert response.status_code == 401, (name, response.content)
        assert response.json()["error"]["code"] in ("invalid_token", "token_expired"), name
    assert not EndUser.objects.filter(project=project.project).exists()
    assert not LinkedIdentity.objects.exists()


@pytest.mark.parametrize("provider", ["google", "apple", "oidc", "firebase"])
def test_t7_another_projects_client_id_is_refused(make_project, project, providers, provider, standin):
    """Project B's token (its own client id / Firebase project) cannot sign in to project A."""
    from basalt.projects.project_settings import update_settings

    other = {"google": "b.apps.googleusercontent.com", "apple": "com.other.app", "oidc": "other-client"}
    claims = _claims(providers, provider, sub="bob")
    if provider == "firebase":
        claims.update(aud="other-fb-project", iss="https://securetoken.google.com/other-fb-project")
    else:
        claims["aud"] = other[provider]
    response = _sign_in(project, provider, {"id_token": providers.mint(claims)})
    assert response.status_code == 401
    # ... and project B, configured with that client id, accepts it: the check is the audience.
    b = make_project("B")
    config = (
        {"enabled": True, "project_id": "other-fb-project"}
        if provider == "firebase"
        else {"enabled": True, "client_ids": [other[provider]]}
    )
    if provider == "oidc":
        config["issuer"] = providers.oidc_issuer
    update_settings(b.project, {"auth": {"providers": {provider: config}}})
    assert _sign_in(b, provider, {"id_token": providers.mint(claims)}).status_code == 200
    assert not EndUser.objects.filter(project=project.project).exists()


def test_es256_tokens_verify(project, providers):
    token = providers.mint(_claims(providers, "google", sub="ec-user"), kid="ec1")
    assert _sign_in(project, "google", {"id_token": token}).status_code == 200


def test_nonce_is_checked_when_sent(project, providers):
    token = providers.mint(_claims(providers, "google", sub="n", nonce="n-123"))
    assert _sign_in(project, "google", {"id_token": token, "nonce": "other"}).status_code == 401
    assert _sign_in(project, "google", {"id_token": token, "nonce": "n-123"}).status_code == 200
    # Apple puts SHA-256(nonce) in the token.
    import hashlib

    hashed = hashlib.sha256(b"raw-nonce").hexdigest()
    apple = providers.mint(_claims(providers, "apple", sub="a", nonce=hashed))
    assert _sign_in(project, "apple", {"id_token": apple, "nonce": "raw-nonce"}).status_code == 200


def test_apple_name_arrives_once_and_is_kept(project, providers):
    first = providers.mint(_claims(providers, "apple", sub="apple-1"))
    body = {"id_token": first, "user": {"name": {"firstName": "Ada", "lastName": "Lovelace"}}}
    assert _sign_in(project, "apple", body).status_code == 200
    later = _sign_in(project, "apple", {"id_token": providers.mint(_claims(providers, "apple", sub="apple-1"))})
    assert later.status_code == 200
    assert LinkedIdentity.objects.get(provider="apple").profile["name"] == "Ada Lovelace"


def test_email_verified_is_taken_as_asserted(project, providers):
    token = providers.mint({**_claims(providers, "apple", sub="u"), "email_verified": "false"})
    body = _sign_in(project, "apple", {"id_token": token}).json()
    assert body["user"]["email_verified"] is False


def test_existing_account_is_never_taken_over(project, providers, signup):
    owner = signup(email="victim@example.com")
    token = google_token(providers, sub="attacker", email="victim@example.com", verified=True)
    response = _sign_in(project, "google", {"id_token": token})
    assert response.status_code == 409 and response.json()["error"]["code"] == "account_exists"
    assert not LinkedIdentity.objects.exists()
    # With linking by verified email on, both sides must be verified: the account is not yet.
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"auth": {"link_by_verified_email": True}})
    assert _sign_in(project, "google", {"id_token": token}).status_code == 409
    EndUser.objects.filter(pk=owner.id).update(email_verified=True)
    unverified = google_token(providers, sub="attacker", email="victim@example.com", verified=False)
    assert _sign_in(project, "google", {"id_token": unverified}).status_code == 409
    assert not LinkedIdentity.objects.exists()
    linked = _sign_in(project, "google", {"id_token": token})
    assert linked.status_code == 200 and linked.json()["user"]["id"] == owner.id


def test_jwks_is_cached_and_refetched_on_unknown_kid_but_bounded(project, providers, settings):
    settings.IDENTITY_JWKS_REFRESH_COOLDOWN = 0
    start = providers.hits.get("/google/jwks", 0)
    assert (
        _sign_in(project, "google", {"id_token": google_token(providers, sub="a", email="a@x.io")}).status_code == 200
    )
    assert (
        _sign_in(project, "google", {"id_token": google_token(providers, sub="b", email="b@x.io")}).status_code == 200
    )
    assert providers.hits["/google/jwks"] - start == 1  # cached
    key = providers.rotate("rsa2")
    token = providers.mint(_claims(providers, "google", sub="c"), kid="rsa2", key=key)
    assert _sign_in(project, "google", {"id_token": token}).status_code == 200  # refetched once
    assert providers.hits["/google/jwks"] - start == 2
    # With the cooldown on, a storm of unknown kids costs at most one more fetch.
    settings.IDENTITY_JWKS_REFRESH_COOLDOWN = 60
    from basalt.identity.providers.endpoints import jwks_clients

    jwks_clients.clear()
    before = providers.hits["/google/jwks"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for i in range(20):
        bad = providers.mint(_claims(providers, "google", sub="x"), kid=f"unknown-{i}", key=stranger)
        assert _sign_in(project, "google", {"id_token": bad}).status_code == 401
    assert providers.hits["/google/jwks"] - before <= 2
    del providers.keys["rsa2"]


@pytest.mark.parametrize("provider", ["google", "oidc", "firebase"])
def test_provider_timeout_is_503_provider_unavailable(project, providers, settings, provider):
    settings.IDENTITY_PROVIDER_TIMEOUT = 0.3
    providers.delay = 1.0
    try:
        response = _sign_in(project, provider, {"id_token": providers.mint(_claims(providers, provider))})
    finally:
        providers.delay = 0.0
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "provider_unavailable"
    assert not EndUser.objects.exists()


def test_unknown_provider_404_disabled_403(project, providers):
    from basalt.projects.project_settings import update_settings

    assert _sign_in(project, "myspace", {"id_token": "x"}).status_code == 404
    update_settings(project.project, {"auth": {"providers": {"google": {"enabled": False}}}})
    response = _sign_in(project, "google", {"id_token": google_token(providers)})
    assert response.status_code == 403 and response.json()["error"]["code"] == "provider_disabled"


def test_hostile_bodies_get_clear_json_errors(project, providers):
    client = key_client(project.publishable)
    cases = [
        {"id_token": "e" * 200_000},
        {"id_token": 12},
        {"id_token": None},
        {},
        {"id_token": google_token(providers), "nonce": ["x"]},
        {"id_token": "\x00\x01"},
        {"id_token": "eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.AAAA"},  # kid is a list
        {"id_token": "eyJhbGciOiJub25lIn0.e30."},
        {"code": "x" * 5000, "code_verifier": "short", "redirect_uri": "javascript:alert(1)"},
    ]
    for provider in ("google", "apple", "oidc", "firebase", "github"):
        for body in cases:
            response = client.post(f"/api/v1/auth/providers/{provider}", body, format="json")
            assert 400 <= response.status_code < 500, (provider, body, response.content)
            assert response.json()["error"]["code"]
        for raw in ("[1,2]", '"text"', "not json"):
            response = client.post(f"/api/v1/auth/providers/{provider}", raw, content_type="application/json")
            assert 400 <= response.status_code < 500
    assert not EndUser.objects.exists()


def test_provider_secrets_are_encrypted_and_never_returned(project, providers):
    from basalt.projects.models import Project
    from tests.conftest import console_client_for

    stored = Project.objects.get(pk=project.project.pk).settings["auth"]["providers"]["github"]
    assert "client_secret" not in stored and "s3cret" not in str(stored)
    console = console_client_for(project.owner)
    url = f"/api/v1/manage/projects/{project.project.ref}/settings"
    shown = console.get(url).json()
    assert "s3cret" not in str(shown)
    assert shown["auth"]["providers"]["github"]["client_secret_set"] is True
    assert "client_secret_encrypted" not in str(shown)
    # A change that leaves the secret out keeps it; null removes it.
    response = console.patch(url, {"auth": {"providers": {"github": {"client_ids": ["Iv1.new"]}}}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["auth"]["providers"]["github"]["client_secret_set"] is True
    assert response.json()["auth"]["providers"]["google"]["enabled"] is True  # other providers kept
    assert "s3cret" not in response.content.decode()
    gone = console.patch(url, {"auth": {"providers": {"github": {"client_secret": None}}}}, format="json")
    assert gone.json()["auth"]["providers"]["github"]["client_secret_set"] is False
    from basalt.identity.auth_settings import auth_settings

    assert auth_settings(Project.objects.get(pk=project.project.pk)).link_by_verified_email is False  # default


def test_bad_provider_settings_are_refused(project):
    from tests.conftest import console_client_for

    console = console_client_for(project.owner)
    url = f"/api/v1/manage/projects/{project.project.ref}/settings"
    for bad in (
        {"providers": {"myspace": {"enabled": True}}},
        {"providers": {"google": {"enabled": "yes"}}},
        {"providers": {"google": {"client_ids": "one"}}},
        {"providers": {"google": {"client_ids": ["has space"]}}},
        {"providers": {"google": {"issuer": "https://x"}}},
        {"providers": {"oidc": {"issuer": "javascript:alert(1)"}}},
        {"providers": {"github": {"client_secret": 5}}},
        {"providers": []},
        {"redirect_urls": ["not a url"]},
        {"redirect_urls": "https://x.example.com"},
        {"link_by_verified_email": "true"},
        {"require_mfa": 1},
        {"passkey_origins": ["https://ok.example.com/path"]},
    ):
        response = console.patch(url, {"auth": bad}, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "validation_failed"


def test_password_user_then_provider_same_address_gets_409_not_a_second_account(project, providers, signup):
    signup(email="same@example.com", password=PASSWORD)
    response = _sign_in(project, "firebase", {"id_token": firebase_token(providers, email="same@example.com")})
    assert response.status_code == 409
    assert EndUser.objects.filter(project=project.project).count() == 1

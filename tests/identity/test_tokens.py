"""Access-token forgery matrix (T7), key rotation, and console vs end-user token separation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from basalt.identity import keys, services
from basalt.identity.models import EndUser, Session, SigningKey
from basalt.identity.tokens import issuer

from .conftest import bearer_client, key_client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(project, user, **override):
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": project.ref,
        "sub": user.id,
        "sid": user.body["session_id"],
        "iat": now,
        "exp": now + 300,
    }
    claims.update(override)
    return claims


def _sign(project, claims, **headers) -> str:
    kid, private = keys.active_key(project)
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid, **headers})


def _assert_refused(project, token: str, code: str = "invalid_token"):
    response = bearer_client(project.publishable, token).get("/api/v1/auth/me")
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == code


def test_well_formed_token_minted_here_is_accepted(project, user):
    """The control cell: a token built the way the matrix builds them does pass."""
    token = _sign(project.project, _claims(project.project, user))
    assert bearer_client(project.publishable, token).get("/api/v1/auth/me").status_code == 200


def test_bad_signature_is_refused(project, user):
    header, payload, signature = user.access.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    _assert_refused(project, f"{header}.{payload}.{flipped}")


def test_payload_tampering_is_refused(project, user, signup):
    other = signup()
    header, payload, signature = user.access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = other.id
    _assert_refused(project, f"{header}.{_b64(json.dumps(claims).encode())}.{signature}")


def test_alg_none_is_refused(project, user):
    kid = jwt.get_unverified_header(user.access)["kid"]
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(_claims(project.project, user)).encode())
    _assert_refused(project, f"{header}.{payload}.")


def test_hs256_signed_with_the_public_key_is_refused(project, user):
    """The classic key-confusion forgery: HMAC keyed with the published public key."""
    kid = jwt.get_unverified_header(user.access)["kid"]
    public_pem = SigningKey.objects.get(kid=kid).public_pem.encode()
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(_claims(project.project, user)).encode())
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    _assert_refused(project, f"{header}.{payload}.{signature}")


def test_foreign_key_with_our_kid_is_refused(project, user):
    kid = jwt.get_unverified_header(user.access)["kid"]
    token = jwt.encode(
        _claims(project.project, user), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
    )
    _assert_refused(project, token)


def test_unknown_kid_is_refused(project, user):
    token = _sign(project.project, _claims(project.project, user), kid="k_doesnotexist0000")
    _assert_refused(project, token)


def test_expired_token_is_token_expired(project, user):
    token = _sign(
        project.project, _claims(project.project, user, iat=int(time.time()) - 600, exp=int(time.time()) - 60)
    )
    _assert_refused(project, token, "token_expired")


@pytest.mark.parametrize("claim", ["aud", "iss"])
def test_wrong_audience_or_issuer_is_refused(project, user, claim):
    _assert_refused(project, _sign(project.project, _claims(project.project, user, **{claim: "someone-else"})))


@pytest.mark.parametrize("missing", ["exp", "sid", "sub", "aud"])
def test_missing_claim_is_refused(project, user, missing):
    claims = _claims(project.project, user)
    del claims[missing]
    _assert_refused(project, _sign(project.project, claims))


def test_other_projects_token_with_this_projects_key_is_invalid_token(project, make_project, signup):
    """API.md §1: a token of project A with a key of project B is 401 invalid_token."""
    other = make_project()
    foreign = signup(key=other.publishable)
    _assert_refused(project, foreign.access)
    # And even a token signed with A's key but claiming B's audience is refused by B.
    _assert_refused(other, _sign(project.project, {**_claims(project.project, foreign), "aud": other.project.ref}))


def test_token_of_deleted_user_is_refused(project, user):
    services.delete_user(project.project, user.id)
    _assert_refused(project, user.access)


def test_token_of_disabled_user_is_refused_and_login_fails(project, user):
    services.set_disabled(project.project, user.id, True)
    _assert_refused(project, user.access)
    login = key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": user.email, "password": user.password}, format="json"
    )
    assert login.status_code == 401
    assert login.json()["error"]["code"] == "invalid_credentials"


def test_revoked_session_is_refused(project, user):
    Session.objects.filter(pk=user.body["session_id"]).update(revoked_at="2026-01-01T00:00:00Z")
    _assert_refused(project, user.access)


def test_session_of_another_user_in_sid_is_refused(project, user, signup):
    """A correctly signed token whose sid belongs to someone else matches no live session."""
    other = signup()
    _assert_refused(project, _sign(project.project, _claims(project.project, user, sid=other.body["session_id"])))


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "Bearer " + "x" * 5000, "Bearer \u00e9.\u00e9.\u00e9"]
)
def test_malformed_authorization_is_refused(project, header):
    client = key_client(project.publishable)
    client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_token", "unauthenticated"}


def test_console_jwt_is_never_an_end_user_token(project, console):
    from rest_framework_simplejwt.tokens import RefreshToken

    console_access = str(RefreshToken.for_user(console.account).access_token)
    _assert_refused(project, console_access)


def test_end_user_token_is_never_a_console_token(project, user):
    client = key_client(project.publishable)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {user.access}")
    response = client.get("/api/v1/manage/projects")
    assert response.status_code == 401


def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_new_key(project, user):
    """Rotating does not log anyone out; JWKS publishes both keys; new tokens use the new kid."""
    old_kid = jwt.get_unverified_header(user.access)["kid"]
    rotated = key_client(project.secret).post("/api/v1/auth/keys/rotate", {}, format="json")
    assert rotated.status_code == 201
    new_kid = rotated.json()["kid"]
    assert new_kid != old_kid
    assert user.client.get("/api/v1/auth/me").status_code == 200
    refreshed = (
        key_client(project.publishable)
        .post("/api/v1/auth/refresh", {"refresh_token": user.refresh}, format="json")
        .json()
    )
    assert jwt.get_unverified_header(refreshed["access_token"])["kid"] == new_kid
    published = {k["kid"]: k for k in key_client(project.publishable).get("/api/v1/auth/jwks.json").json()["keys"]}
    assert set(published) == {old_kid, new_kid}
    # An app server verifies a token with nothing but the JWKS.
    jwk = jwt.PyJWK(published[new_kid])
    claims = jwt.decode(refreshed["access_token"], jwk, algorithms=["EdDSA"], audience=project.project.ref)
    assert claims["sub"] == user.id


def test_rotation_needs_the_secret_key(project, user):
    response = user.client.post("/api/v1/auth/keys/rotate", {}, format="json")
    assert response.status_code == 403
    assert SigningKey.objects.filter(project=project.project).count() == 1


def test_retired_key_stops_verifying_after_its_window(project, user):
    from django.utils import timezone

    keys.rotate(project.project)
    SigningKey.objects.filter(project=project.project, status="retired").update(verify_until=timezone.now())
    keys._verify_cache.clear()
    _assert_refused(project, user.access)


def test_private_keys_are_encrypted_at_rest(project, user):
    row = SigningKey.objects.get(project=project.project)
    assert "PRIVATE KEY" not in row.private_encrypted
    assert b"PRIVATE KEY" in keys.decrypt_private(row.private_encrypted)


def test_user_ids_cannot_collide_with_principal_names(project, signup):
    """T6: ids are [a-z0-9]{20}, never '*', 'authenticated' or 'role:…'."""
    import re

    ids = [signup().id for _ in range(5)]
    assert all(re.fullmatch(r"[a-z0-9]{20}", i) for i in ids)
    assert not EndUser.objects.filter(pk__in=["*", "authenticated"]).exists()


def test_bearer_resolution_costs_one_query(project, user, django_assert_num_queries):
    """T16: the key lookup plus one statement for session liveness and every held role; once this
    process resolved the token under the project's current caller epoch, the key lookup alone."""
    from basalt.projects.caller import resolve_caller

    key_client(project.secret).post("/api/v1/roles", {"name": "r1", "users": [user.id]}, format="json")

    class Req:
        META = {"HTTP_X_API_KEY": project.publishable, "HTTP_AUTHORIZATION": f"Bearer {user.access}"}

    from basalt.identity.resolver import forget_resolved

    resolve_caller(Req())  # warm the per-process public-key cache
    forget_resolved()
    with django_assert_num_queries(2):
        caller = resolve_caller(Req())
    assert caller.user_id == user.id and caller.roles == frozenset({"r1"})
    with django_assert_num_queries(1):
        assert resolve_caller(Req()) == caller

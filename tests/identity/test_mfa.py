"""TOTP second factor, recovery codes and the mfa_token challenge (SECURITY.md T21)."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from django.core import mail
from django.utils import timezone

from basalt.identity.models import AuthChallenge, MfaFactor, RecoveryCode

from .conftest import PASSWORD, bearer_client, key_client
from .provider_fixtures import google_token

pytestmark = pytest.mark.django_db


def _login(project, email, password=PASSWORD):
    return key_client(project.publishable).post(
        "/api/v1/auth/login", {"email": email, "password": password}, format="json"
    )


def _enrol(user) -> tuple[pyotp.TOTP, list[str]]:
    started = user.client.post("/api/v1/auth/mfa/totp/enroll")
    assert started.status_code == 200, started.content
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/") and "secret=" + body["secret"] in body["otpauth_uri"]
    totp = pyotp.TOTP(body["secret"])
    confirmed = user.client.post("/api/v1/auth/mfa/totp/confirm", {"code": totp.now()}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    return totp, codes


def _next(totp: pyotp.TOTP, steps: int = 1) -> str:
    return totp.at(time.time() + 30 * steps)


def _mfa_token(project, user) -> str:
    response = _login(project, user.email)
    assert response.status_code == 401, response.content
    error = response.json()["error"]
    assert error["code"] == "mfa_required" and "totp" in error["details"]["methods"]
    assert "access_token" not in response.content.decode()
    return error["details"]["mfa_token"]


def _verify(project, token, code):
    return key_client(project.publishable).post(
        "/api/v1/auth/mfa/verify", {"mfa_token": token, "code": code}, format="json"
    )


def test_enrol_confirm_then_sign_in_needs_the_code(project, user):
    totp, _ = _enrol(user)
    token = _mfa_token(project, user)
    done = _verify(project, token, _next(totp))
    assert done.status_code == 200, done.content
    assert done.json()["user"]["id"] == user.id
    me = bearer_client(project.publishable, done.json()["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    # Secrets and codes at rest: the seed encrypted, recovery codes hashed.
    factor = MfaFactor.objects.get(user_id=user.id)
    assert totp.secret not in factor.secret_encrypted
    assert all(len(r.code_hash) == 64 for r in RecoveryCode.objects.filter(user_id=user.id))


def test_t21_code_replay_in_window_is_refused(project, user):
    totp, _ = _enrol(user)
    code = _next(totp)
    assert _verify(project, _mfa_token(project, user), code).status_code == 200
    replay = _verify(project, _mfa_token(project, user), code)
    assert replay.status_code == 401 and replay.json()["error"]["code"] == "invalid_credentials"
    # An older code of the window is refused too, once a newer one was used.
    assert _verify(project, _mfa_token(project, user), totp.now()).status_code == 401


def test_t21_mfa_token_is_single_use_and_expires(project, user):
    totp, _ = _enrol(user)
    token = _mfa_token(project, user)
    assert _verify(project, token, _next(totp)).status_code == 200
    reused = _verify(project, token, _next(totp, 2))
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "invalid_token"
    late = _mfa_token(project, user)
    AuthChallenge.objects.filter(purpose="mfa", used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert _verify(project, late, _next(totp, 2)).status_code == 401


def test_t21_brute_force_is_429_before_ten_wrong_codes_per_challenge(project, user):
    totp, _ = _enrol(user)
    token = _mfa_token(project, user)
    statuses = [_verify(project, token, f"{n:06d}").status_code for n in range(10)]
    assert 429 in statuses and statuses.index(429) < 9, statuses
    # The challenge is dead even for the right code: sign in again.
    assert _verify(project, token, _next(totp)).status_code in (401, 429)


def test_t21_per_user_throttle_spans_challenges(project, user, settings):
    settings.IDENTITY_MFA_FAILURES_PER_USER = 6
    totp, _ = _enrol(user)
    statuses = []
    for _ in range(4):
        token = _mfa_token(project, user)
        statuses += [_verify(project, token, "000000").status_code for _ in range(2)]
    assert statuses[-1] == 429 and statuses[:5] == [401] * 5, statuses


def test_recovery_code_works_once(project, user):
    totp, codes = _enrol(user)
    assert _verify(project, _mfa_token(project, user), codes[0]).status_code == 200
    assert _verify(project, _mfa_token(project, user), codes[0]).status_code == 401
    assert _verify(project, _mfa_token(project, user), codes[1].upper().replace("-", " ")).status_code == 200


def test_t21_password_reset_does_not_skip_the_second_factor(project, user, django_capture_on_commit_callbacks):
    _enrol(user)
    with django_capture_on_commit_callbacks(execute=True):
        key_client(project.publishable).post("/api/v1/auth/password/reset", {"email": user.email}, format="json")
    token = mail.outbox[-1].body.split("Your code: ")[-1].split()[0]
    reset = key_client(project.publishable).post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "password": "N3w-passw0rd-here"}, format="json"
    )
    assert reset.status_code == 204, reset.content
    response = _login(project, user.email, "N3w-passw0rd-here")
    assert response.status_code == 401 and response.json()["error"]["code"] == "mfa_required"


def test_provider_sign_in_does_not_skip_the_second_factor(project, providers):
    first = (
        key_client(project.publishable)
        .post("/api/v1/auth/providers/google", {"id_token": google_token(providers, sub="mfa-g")}, format="json")
        .json()
    )
    client = bearer_client(project.publishable, first["access_token"])
    secret = client.post("/api/v1/auth/mfa/totp/enroll").json()["secret"]
    totp = pyotp.TOTP(secret)
    assert client.post("/api/v1/auth/mfa/totp/confirm", {"code": totp.now()}, format="json").status_code == 200
    again = key_client(project.publishable).post(
        "/api/v1/auth/providers/google", {"id_token": google_token(providers, sub="mfa-g")}, format="json"
    )
    assert again.status_code == 401 and again.json()["error"]["code"] == "mfa_required"
    assert _verify(project, again.json()["error"]["details"]["mfa_token"], _next(totp)).status_code == 200


def test_project_requiring_mfa_makes_users_enrol_through_the_challenge(project, user):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"auth": {"require_mfa": True}})
    response = _login(project, user.email)
    assert response.status_code == 401
    details = response.json()["error"]["details"]
    assert details["enroll_required"] is True and details["methods"] == []
    client = key_client(project.publishable)
    # Nothing but enrolment works with this token.
    assert _verify(project, details["mfa_token"], "123456").status_code == 401
    started = client.post("/api/v1/auth/mfa/totp/enroll", {"mfa_token": details["mfa_token"]}, format="json")
    assert started.status_code == 200, started.content
    totp = pyotp.TOTP(started.json()["secret"])
    done = client.post(
        "/api/v1/auth/mfa/totp/confirm", {"mfa_token": details["mfa_token"], "code": totp.now()}, format="json"
    )
    assert done.status_code == 200, done.content
    assert len(done.json()["recovery_codes"]) == 10 and done.json()["access_token"]
    # The factor cannot be removed while the project requires it.
    me = bearer_client(project.publishable, done.json()["access_token"])
    assert me.delete("/api/v1/auth/mfa/totp").status_code == 403
    # The contract says so too: these two take the API key alone (with the body's mfa_token), so a
    # generated client does not demand a bearer token the caller cannot have yet.
    from basalt.documents.openapi import build_document

    paths = build_document()["paths"]
    for path in ("/api/v1/auth/mfa/totp/enroll", "/api/v1/auth/mfa/totp/confirm"):
        assert {"apiKey": []} in paths[path]["post"]["security"], path


def test_admin_reset_removes_the_factor_and_tells_the_user(project, user, django_capture_on_commit_callbacks):
    _enrol(user)
    assert key_client(project.publishable).delete(f"/api/v1/auth/users/{user.id}/mfa").status_code == 403
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert key_client(project.secret).delete(f"/api/v1/auth/users/{user.id}/mfa").status_code == 204
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "two-step" in mail.outbox[0].subject.lower()
    assert _login(project, user.email).status_code == 200


def test_user_removes_own_totp_and_enrolment_rules(project, user):
    totp, _ = _enrol(user)
    again = user.client.post("/api/v1/auth/mfa/totp/enroll")
    assert again.status_code == 409
    assert user.client.get("/api/v1/auth/mfa").json()["methods"] == ["totp", "recovery_code"]
    assert user.client.delete("/api/v1/auth/mfa/totp").status_code == 204
    assert _login(project, user.email).status_code == 200


def test_hostile_mfa_input(project, user):
    totp, _ = _enrol(user)
    token = _mfa_token(project, user)
    client = key_client(project.publishable)
    for body in (
        {},
        {"mfa_token": token},
        {"mfa_token": token, "code": 123456},
        {"mfa_token": token, "code": "x" * 10_000},
        {"mfa_token": ["a"], "code": "123456"},
        {"mfa_token": "z" * 100_000, "code": "123456"},
        [1, 2],
    ):
        response = client.post("/api/v1/auth/mfa/verify", body, format="json")
        assert 400 <= response.status_code < 500, body
        assert response.json()["error"]["code"]
    bad = user.client.post("/api/v1/auth/mfa/totp/confirm", {"code": {"$gt": ""}}, format="json")
    assert bad.status_code in (400, 409)


def test_an_mfa_token_cannot_enrol_a_new_factor_over_an_existing_one(project, user):
    """Someone with only the password must not add their own authenticator (T21)."""
    from basalt.projects.project_settings import update_settings

    _enrol(user)
    update_settings(project.project, {"auth": {"require_mfa": True}})
    token = _mfa_token(project, user)
    client = key_client(project.publishable)
    assert client.post("/api/v1/auth/mfa/totp/enroll", {"mfa_token": token}, format="json").status_code in (403, 409)
    confirm = client.post("/api/v1/auth/mfa/totp/confirm", {"mfa_token": token, "code": "123456"}, format="json")
    assert confirm.status_code == 403


def test_optional_bodies_that_are_not_objects_are_refused(project, user):
    """TOTP enrolment and passkey sign-in options take no body or an object; `null` or a list is a
    400, not read as no body (it would start an enrolment the client did not describe)."""
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"auth": {"passkey_rp_id": "localhost", "passkey_origins": ["http://localhost"]}})
    for path, client in (
        ("/api/v1/auth/mfa/totp/enroll", user.client),
        ("/api/v1/auth/mfa/totp/confirm", user.client),
        ("/api/v1/auth/passkeys/login/options", key_client(project.publishable)),
    ):
        for body in (b"null", b"[]", b"7"):
            refused = client.post(path, body, content_type="application/json")
            assert refused.status_code == 400, (path, body, refused.content)
            assert refused.json()["error"]["details"] == {"body": ["Must be a JSON object."]}, path
    assert user.client.post("/api/v1/auth/mfa/totp/enroll").status_code == 200

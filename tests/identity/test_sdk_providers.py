"""The Python SDK over HTTP: provider sign-in, the MFA challenge, link and unlink."""

from __future__ import annotations

import time

import pyotp
import pytest

from .provider_fixtures import google_token

basalt_sdk = pytest.importorskip("basalt_sdk")

pytestmark = pytest.mark.django_db(transaction=True)


def test_sdk_signs_in_with_a_provider_finishes_mfa_and_links(project, providers, live_server):
    with basalt_sdk.Client(live_server.url, project.publishable) as app:
        first = app.sign_in_with_provider(
            "google", id_token=google_token(providers, sub="sdk-1", email="sdk@example.com")
        )
        assert first["user"]["email"] == "sdk@example.com" and app.access_token == first["access_token"]
        assert [i["provider"] for i in app.identities()] == ["google"]
        with pytest.raises(basalt_sdk.ConflictError) as last:
            app.unlink_provider("google")
        assert last.value.code == "last_sign_in_method"
        secret = app.enroll_totp()["secret"]
        codes = app.confirm_totp(pyotp.TOTP(secret).now())
        assert len(codes) == 10
    with basalt_sdk.Client(live_server.url, project.publishable) as app:
        with pytest.raises(basalt_sdk.MfaRequiredError) as challenge:
            app.sign_in_with_provider("google", id_token=google_token(providers, sub="sdk-1", email="sdk@example.com"))
        assert "totp" in challenge.value.methods and app.access_token is None
        done = app.verify_mfa(challenge.value.mfa_token, pyotp.TOTP(secret).at(time.time() + 30))
        assert done["user"]["id"] == first["user"]["id"] and app.access_token
        with pytest.raises(basalt_sdk.AuthenticationError):
            app.sign_in_with_provider("google", id_token="not-a-token")
    with basalt_sdk.Client(live_server.url, project.publishable) as anon:
        anon.sign_in_anonymously()
        linked = anon.link_provider("google", id_token=google_token(providers, sub="sdk-2", email="two@example.com"))
        assert linked["user"]["is_anonymous"] is False
        with pytest.raises(basalt_sdk.NotFoundError):
            anon.unlink_provider("github")

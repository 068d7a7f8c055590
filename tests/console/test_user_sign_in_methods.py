"""Users → a user's page shows linked providers and two-step sign-in, and resets it."""

from __future__ import annotations

import pyotp
import pytest
from django.core import mail

from tests.conftest import app_client
from tests.identity.provider_fixtures import google_token, providers, standin  # noqa: F401

pytestmark = pytest.mark.django_db


def test_user_page_shows_identities_and_mfa_and_an_admin_resets_it(
    project,
    providers,  # noqa: F811  (the fixture imported above)
    owner_client,
    member_client,
    django_capture_on_commit_callbacks,
):
    signed = (
        app_client(project)
        .post(
            "/api/v1/auth/providers/google",
            {"id_token": google_token(providers, sub="c-1", email="c1@example.com")},
            format="json",
        )
        .json()
    )
    me = app_client(project, signed["access_token"])
    secret = me.post("/api/v1/auth/mfa/totp/enroll").json()["secret"]
    assert (
        me.post("/api/v1/auth/mfa/totp/confirm", {"code": pyotp.TOTP(secret).now()}, format="json").status_code == 200
    )
    url = f"/console/p/{project.project.ref}/users/{signed['user']['id']}"
    page = owner_client.get(url).content.decode()
    identities = page.split('id="identities"')[1].split("</dd>")[0]
    assert "google" in identities and "c1@example.com" in identities
    assert "totp" in page.split('id="mfa-state"')[1].split("</dd>")[0]
    assert "Reset two-step sign-in" in page
    # A viewer sees the state but cannot reset it.
    viewer = member_client("viewer")
    assert "Reset two-step sign-in" not in viewer.get(url).content.decode()
    assert viewer.post(url + "/mfa/reset").status_code in (302, 403)
    assert "totp" in owner_client.get(url).content.decode().split('id="mfa-state"')[1].split("</dd>")[0]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_client.post(url + "/mfa/reset").status_code == 302
    assert [m.to for m in mail.outbox] == [["c1@example.com"]]
    assert "off" in owner_client.get(url).content.decode().split('id="mfa-state"')[1].split("</dd>")[0]

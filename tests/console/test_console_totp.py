"""Console accounts' authenticator apps: set-up with a QR code, the sign-in code step in the
console and in the management API, and owners requiring it of a project's members."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.test import Client
from rest_framework.test import APIClient

from basalt.projects import services

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _enable(client: Client) -> pyotp.TOTP:
    page = client.post("/console/account/totp/start")
    assert page.status_code == 200
    html = page.content.decode()
    assert re.search(r'id="totp-qr" src="data:image/svg\+xml;base64,[A-Za-z0-9+/=]{200,}"', html)
    secret = re.search(r'id="totp-secret">([A-Z2-7]{16,})<', html).group(1)
    totp = pyotp.TOTP(secret)
    assert client.post("/console/account/totp/confirm", {"code": totp.now()}).status_code == 302
    assert 'id="totp-state">on<' in client.get("/console/account").content.decode().replace("\n", "")
    return totp


def _code(totp: pyotp.TOTP, steps: int) -> str:
    return totp.at(time.time() + 30 * steps)


def test_account_turns_totp_on_and_sign_in_asks_for_the_code(make_account, browser_for):
    account = make_account()
    totp = _enable(browser_for(account))
    browser = Client()
    step = browser.post("/console/signin", {"email": account.email, "password": PASSWORD})
    assert step.status_code == 302 and step["Location"].endswith("/console/signin/code")
    assert browser.get("/console/projects").status_code == 302  # not signed in yet
    wrong = browser.post("/console/signin/code", {"code": "000000"})
    assert wrong.status_code == 400
    done = browser.post("/console/signin/code", {"code": _code(totp, 1)})
    assert done.status_code == 302
    assert browser.get("/console/projects").status_code == 200
    # The code step cannot be reached without the password step.
    assert Client().get("/console/signin/code").status_code == 302


def test_management_api_sign_in_needs_otp_once_totp_is_on(make_account, browser_for):
    account = make_account()
    totp = _enable(browser_for(account))
    api = APIClient()
    url = "/api/v1/manage/auth/jwt/create/"
    missing = api.post(url, {"email": account.email, "password": PASSWORD}, format="json")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "mfa_required"
    wrong = api.post(url, {"email": account.email, "password": PASSWORD, "otp": "123456"}, format="json")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    code = _code(totp, 1)
    ok = api.post(url, {"email": account.email, "password": PASSWORD, "otp": code}, format="json")
    assert ok.status_code == 200 and ok.json()["access"]
    replay = api.post(url, {"email": account.email, "password": PASSWORD, "otp": code}, format="json")
    assert replay.status_code == 401
    garbage = api.post(url, {"email": account.email, "password": PASSWORD, "otp": ["x"]}, format="json")
    assert garbage.status_code in (400, 401)


def test_turning_totp_off_needs_a_current_code(make_account, browser_for):
    account = make_account()
    client = browser_for(account)
    totp = _enable(client)
    assert client.post("/console/account/totp/disable", {"code": "000000"}).status_code == 400
    assert client.post("/console/account/totp/disable", {"code": _code(totp, 1)}).status_code == 302
    assert 'id="totp-state">off<' in client.get("/console/account").content.decode().replace("\n", "")


def test_owner_requires_an_authenticator_app_of_members(project, browser_for, make_account):
    owner = browser_for(project.owner)
    member_account = make_account()
    services.join_project(project.project, member_account, "developer")
    member = browser_for(member_account)
    url = f"/console/p/{project.project.ref}/settings/member-mfa"
    # The owner must have one first; an admin may not require it at all.
    owner.post(url, {"required": "true"})
    assert not (project.project.__class__.objects.get(pk=project.project.pk).settings or {}).get("console")
    _enable(owner)
    assert owner.post(url, {"required": "true"}).status_code == 302
    refused = member.get(f"/console/p/{project.project.ref}")
    assert refused.status_code == 403 and "authenticator app" in refused.content.decode()
    api = APIClient()
    from basalt.accounts import sessions

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {sessions.start(member_account).access}")
    answer = api.get(f"/api/v1/manage/projects/{project.project.ref}")
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "mfa_enrollment_required"
    _enable(member)
    assert member.get(f"/console/p/{project.project.ref}").status_code == 200
    assert api.get(f"/api/v1/manage/projects/{project.project.ref}").status_code == 200
    admin_account = make_account()
    services.join_project(project.project, admin_account, "admin")
    admin = browser_for(admin_account)
    _enable(admin)
    admin.post(url, {"required": "false"})
    assert (
        project.project.__class__.objects.get(pk=project.project.pk).settings["console"]["require_member_mfa"] is True
    )

"""Passkeys end to end: Chromium's DevTools virtual authenticator registers and signs in on a
console page of a live server; the server verifies with the `webauthn` package."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.console.browser import launched_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in the page: fetch options from the API, ask the authenticator, post the credential.
CEREMONY = """
async ({base, key, token, kind, mfaToken}) => {
  const headers = {'Content-Type': 'application/json', 'X-API-Key': key};
  if (token) headers['Authorization'] = 'Bearer ' + token;
  const post = async (path, body) => {
    const r = await fetch(base + path, {method: 'POST', headers, body: JSON.stringify(body || {})});
    return {status: r.status, body: await r.json().catch(() => ({}))};
  };
  if (kind === 'register') {
    const opts = await post('/api/v1/auth/passkeys/register/options');
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(opts.body.options);
    const cred = await navigator.credentials.create({publicKey});
    return post('/api/v1/auth/passkeys/register', {challenge_id: opts.body.challenge_id, credential: cred.toJSON()});
  }
  const opts = await post('/api/v1/auth/passkeys/login/options', mfaToken ? {mfa_token: mfaToken} : {});
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(opts.body.options);
  const cred = await navigator.credentials.get({publicKey});
  const body = {challenge_id: opts.body.challenge_id, credential: cred.toJSON()};
  if (mfaToken) body.mfa_token = mfaToken;
  const first = await post('/api/v1/auth/passkeys/login', body);
  const replay = await post('/api/v1/auth/passkeys/login', body);
  return {...first, replay_status: replay.status};
}
"""


def _api(base, path, key, body=None, token=None, method="POST"):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body or {}).encode())
    request.add_header("Content-Type", "application/json")
    request.add_header("X-API-Key", key)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback test server)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture
def browser_page(live_server, monkeypatch):
    with launched_chromium(monkeypatch) as browser:
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        page.goto("/console/signin")
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        yield page


def test_passkey_registers_then_signs_in_without_password_and_as_second_factor(project, live_server, browser_page):
    import pyotp

    from basalt.projects.project_settings import update_settings

    base = live_server.url
    update_settings(project.project, {"auth": {"passkey_rp_id": "localhost", "passkey_origins": [base]}})
    status, signed = _api(
        base, "/api/v1/auth/signup", project.publishable, {"email": "pk@example.com", "password": "Tr0ub4dor&3-horse"}
    )
    assert status == 201, signed
    args = {
        "base": base,
        "key": project.publishable,
        "token": signed["access_token"],
        "kind": "register",
        "mfaToken": None,
    }
    registered = browser_page.evaluate(CEREMONY, args)
    assert registered["status"] == 201, registered
    # Password-less: a discoverable credential, user verified by the authenticator.
    login = browser_page.evaluate(CEREMONY, {**args, "token": None, "kind": "login"})
    assert login["status"] == 200, login
    assert login["body"]["user"]["email"] == "pk@example.com" and login["body"]["access_token"]
    assert login["replay_status"] == 401  # the challenge is spent
    # As the second factor of a password sign-in (once TOTP makes a second step due).
    status, enrol = _api(base, "/api/v1/auth/mfa/totp/enroll", project.publishable, token=signed["access_token"])
    totp = pyotp.TOTP(enrol["secret"])
    status, _ = _api(
        base, "/api/v1/auth/mfa/totp/confirm", project.publishable, {"code": totp.now()}, token=signed["access_token"]
    )
    assert status == 200
    status, challenge = _api(
        base, "/api/v1/auth/login", project.publishable, {"email": "pk@example.com", "password": "Tr0ub4dor&3-horse"}
    )
    assert status == 401 and "passkey" in challenge["error"]["details"]["methods"]
    mfa_token = challenge["error"]["details"]["mfa_token"]
    second = browser_page.evaluate(CEREMONY, {**args, "token": None, "kind": "login", "mfaToken": mfa_token})
    assert second["status"] == 200, second
    assert second["body"]["access_token"]
    assert second["replay_status"] == 401


def test_passkeys_are_off_until_configured_and_refuse_garbage(project, live_server):
    base = live_server.url
    status, body = _api(base, "/api/v1/auth/passkeys/login/options", project.publishable)
    assert status == 403 and body["error"]["code"] == "passkeys_disabled"
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"auth": {"passkey_rp_id": "localhost", "passkey_origins": [base]}})
    status, options = _api(base, "/api/v1/auth/passkeys/login/options", project.publishable)
    assert status == 200 and options["options"]["rpId"] == "localhost"
    for body in (
        {},
        {"challenge_id": options["challenge_id"]},
        {"challenge_id": options["challenge_id"], "credential": {"id": "AAAA", "rawId": "AAAA", "response": {}}},
        {"challenge_id": "x" * 40, "credential": {"id": "x"}},
        {"challenge_id": options["challenge_id"], "credential": {"id": ["x"], "rawId": {"a": 1}}},
    ):
        status, answer = _api(base, "/api/v1/auth/passkeys/login", project.publishable, body)
        assert 400 <= status < 500, (body, answer)
        assert answer["error"]["code"]

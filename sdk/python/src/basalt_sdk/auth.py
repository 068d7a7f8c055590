"""End-user sign-in beyond sign-up: passwords, providers, second factors, linked identities.

Mixed into `Client`; every successful sign-in sets `access_token` on the client. A sign-in that
needs a second factor raises `MfaRequiredError`, whose `mfa_token` finishes it::

    try:
        client.sign_in_with_provider("google", id_token=token)
    except MfaRequiredError as challenge:
        client.verify_mfa(challenge.mfa_token, input("code: "))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    import httpx


class AuthMixin:
    access_token: str | None

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:  # provided by Client
        raise NotImplementedError

    def _signed_in(self, response: httpx.Response) -> dict[str, Any]:  # provided by Client
        raise NotImplementedError

    def sign_in(self, email: str | None = None, password: str = "", *, username: str | None = None) -> dict[str, Any]:
        """`POST /api/v1/auth/login` with an email (or a username) and password."""
        body: dict[str, Any] = {"password": password}
        if username is not None:
            body["username"] = username
        else:
            body["email"] = email
        return self._signed_in(self.request("POST", "/api/v1/auth/login", json=body))

    def sign_in_with_provider(
        self,
        provider: str,
        id_token: str | None = None,
        *,
        nonce: str | None = None,
        code: str | None = None,
        code_verifier: str | None = None,
        redirect_uri: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Sign in with a provider's ID token (google, apple, firebase, oidc) or an authorization
        code with its PKCE verifier (github, oidc). `extra` carries e.g. Apple's `user` object."""
        body = _proof(id_token, nonce, code, code_verifier, redirect_uri, extra)
        return self._signed_in(self.request("POST", f"/api/v1/auth/providers/{quote(provider, safe='')}", json=body))

    def exchange_provider_code(self, code: str) -> dict[str, Any]:
        """Finish a browser sign-in: the one-time `code` the redirect brought back."""
        return self._signed_in(self.request("POST", "/api/v1/auth/providers/exchange", json={"code": code}))

    def verify_mfa(self, mfa_token: str, code: str) -> dict[str, Any]:
        """Finish a sign-in that raised `MfaRequiredError`, with a TOTP code or a recovery code."""
        return self._signed_in(
            self.request("POST", "/api/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
        )

    def enroll_totp(self) -> dict[str, Any]:
        """Start TOTP enrolment: `{secret, otpauth_uri}` for an authenticator app."""
        result: dict[str, Any] = self.request("POST", "/api/v1/auth/mfa/totp/enroll").json()
        return result

    def confirm_totp(self, code: str) -> list[str]:
        """Turn TOTP on with a first code; returns the 10 recovery codes (shown only now)."""
        codes: list[str] = self.request("POST", "/api/v1/auth/mfa/totp/confirm", json={"code": code}).json()[
            "recovery_codes"
        ]
        return codes

    def identities(self) -> list[dict[str, Any]]:
        """The signed-in user's linked providers."""
        results: list[dict[str, Any]] = self.request("GET", "/api/v1/auth/me/identities").json()["results"]
        return results

    def link_provider(
        self,
        provider: str,
        id_token: str | None = None,
        *,
        nonce: str | None = None,
        code: str | None = None,
        code_verifier: str | None = None,
        redirect_uri: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Link a provider to the signed-in user (an anonymous user becomes a full one, same id)."""
        body = _proof(id_token, nonce, code, code_verifier, redirect_uri, extra)
        linked: dict[str, Any] = self.request(
            "POST", f"/api/v1/auth/me/identities/{quote(provider, safe='')}", json=body
        ).json()
        return linked

    def unlink_provider(self, provider: str) -> None:
        """Unlink a provider; the last way to sign in cannot be removed (ConflictError)."""
        self.request("DELETE", f"/api/v1/auth/me/identities/{quote(provider, safe='')}")


def _proof(id_token, nonce, code, code_verifier, redirect_uri, extra) -> dict[str, Any]:
    body: dict[str, Any] = dict(extra)
    for name, value in (
        ("id_token", id_token),
        ("nonce", nonce),
        ("code", code),
        ("code_verifier", code_verifier),
        ("redirect_uri", redirect_uri),
    ):
        if value is not None:
            body[name] = value
    return body

"""The built-in sign-in providers: Google, Apple, Firebase, generic OpenID Connect and GitHub.

ID-token providers verify with `id_tokens.verify` (PyJWT + the provider's JWKS) or, for
Firebase, with firebase-admin's own `verify_id_token`; code providers exchange the code with
Authlib's `OAuth2Session` (PKCE S256) and read who signed in from the ID token (OIDC) or the
user API (GitHub). Endpoints come from `endpoints.endpoints()`, the one seam tests redirect.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session

from basalt.core.errors import InvalidToken, TokenExpired, ValidationFailed
from basalt.identity.providers import AuthProvider, ProviderIdentity, ProviderUnavailable, id_tokens, registry
from basalt.identity.providers.config import client_secret
from basalt.identity.providers.endpoints import check_public, discovery_cache, endpoints, get_json, timeout
from basalt.projects.models import Project

_VERIFIER = re.compile(r"\A[A-Za-z0-9._~-]{43,128}\Z")
MAX_CODE_LENGTH = 2048
DISCOVERY_TTL = 3600


def _profile(claims: dict[str, Any], *names: str) -> dict[str, Any]:
    return {n: claims[n] for n in names if isinstance(claims.get(n), str) and len(claims[n]) <= 2048}


class _IdTokenProvider(AuthProvider):
    """Google and Apple: fixed issuer and JWKS, audience = one of the project's client ids."""

    profile_claims: tuple[str, ...] = ("name", "given_name", "family_name", "picture")

    def issuer_and_jwks(self, config: dict[str, Any]) -> tuple[list[str], str]:
        found = endpoints(self.name)
        return list(found["issuers"]), found["jwks_uri"]

    def verify(self, project: Project, config: dict[str, Any], body: dict[str, Any]) -> ProviderIdentity:
        token = id_tokens.require_token(body)
        nonce = id_tokens.optional_nonce(body)
        issuers, jwks_uri = self.issuer_and_jwks(config)
        claims = id_tokens.verify(
            token, jwks_uri=jwks_uri, issuers=issuers, audiences=config.get("client_ids") or [], nonce=nonce
        )
        return ProviderIdentity(
            provider=self.name,
            subject=claims["sub"],
            email=id_tokens.asserted_email(claims),
            email_verified=id_tokens.asserted_verified(claims),
            profile=self.profile_from(claims, body),
        )

    def profile_from(self, claims: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        return _profile(claims, *self.profile_claims)


class Google(_IdTokenProvider):
    name = "google"


class Apple(_IdTokenProvider):
    """Apple puts no name in its tokens: the app receives it once, at the first authorisation, and
    sends it as `user.name` (`{firstName, lastName}`) or `name`; it is kept from then on."""

    name = "apple"

    def profile_from(self, claims: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        profile = {}
        if claims.get("is_private_email") in (True, "true"):
            profile["private_email"] = True
        sent = body.get("name")
        user = body.get("user")
        if sent is None and isinstance(user, dict) and isinstance(user.get("name"), dict):
            parts = user["name"]
            sent = " ".join(p for p in (parts.get("firstName"), parts.get("lastName")) if isinstance(p, str) and p)
        if sent is not None:
            if not isinstance(sent, str) or len(sent) > 200 or "\x00" in sent:
                raise ValidationFailed(details={"name": ["Must be a string of at most 200 characters."]})
            if sent.strip():
                profile["name"] = sent.strip()
        return profile


def _discovery(config: dict[str, Any]) -> dict[str, Any]:
    """The OIDC provider's metadata (cached an hour), checked to belong to the configured issuer."""
    issuer = config.get("issuer")
    if not issuer:
        raise ProviderUnavailable("The OpenID Connect provider has no issuer configured.")
    url = config.get("discovery_url") or issuer.rstrip("/") + "/.well-known/openid-configuration"
    slot = discovery_cache.get_or_make(url, lambda: {"at": 0.0, "doc": None})
    if slot["doc"] is None or time.monotonic() - slot["at"] > DISCOVERY_TTL:
        check_public(url)
        doc = get_json(url)
        if not isinstance(doc, dict) or doc.get("issuer") != issuer or not isinstance(doc.get("jwks_uri"), str):
            raise ProviderUnavailable("The provider's discovery document does not match its issuer.")
        slot["doc"], slot["at"] = doc, time.monotonic()
    return slot["doc"]


def _code_body(body: dict[str, Any], allowed_redirects: tuple[str, ...]) -> tuple[str, str, str]:
    code, verifier, redirect_uri = body.get("code"), body.get("code_verifier"), body.get("redirect_uri")
    errors: dict[str, list[str]] = {}
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_CODE_LENGTH:
        errors["code"] = ["Required: the authorization code as a string."]
    if not isinstance(verifier, str) or not _VERIFIER.match(verifier):
        errors["code_verifier"] = ["Required: the PKCE verifier (43-128 characters, RFC 7636)."]
    if not isinstance(redirect_uri, str) or redirect_uri not in allowed_redirects:
        errors["redirect_uri"] = ["Must be one of the project's allowed redirect URLs (auth.redirect_urls)."]
    if errors:
        raise ValidationFailed(details=errors)
    return code, verifier, redirect_uri


def _session(config: dict[str, Any], redirect_uri: str, scope: str | None = None) -> OAuth2Session:
    ids = config.get("client_ids") or []
    if not ids:
        raise ProviderUnavailable("The provider has no client id configured for this project.")
    return OAuth2Session(
        ids[0],
        client_secret(config),
        redirect_uri=redirect_uri,
        scope=scope,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_post",
        default_timeout=timeout(),
    )


def _exchange(session: OAuth2Session, token_url: str, code: str, verifier: str) -> dict[str, Any]:
    """The token request; the provider's refusal (GitHub: HTTP 200 with an error body) is a 401."""
    try:
        token = session.fetch_token(token_url, code=code, code_verifier=verifier, allow_redirects=False)
    except AuthlibBaseError as error:
        raise InvalidToken(
            "The provider refused the authorization code.", details={"provider_error": str(error.error)[:100]}
        )
    except (requests.RequestException, ValueError, OSError):
        raise ProviderUnavailable()
    if not isinstance(token, dict) or not isinstance(token.get("access_token"), str):
        raise ProviderUnavailable("The provider's token answer has no access token.")
    return token


class Oidc(_IdTokenProvider):
    """Any OpenID Connect provider: issuer (and discovery URL) and client ids from the project."""

    name = "oidc"
    kinds = ("id_token", "code")
    profile_claims = ("name", "given_name", "family_name", "picture", "preferred_username")

    def issuer_and_jwks(self, config: dict[str, Any]) -> tuple[list[str], str]:
        doc = _discovery(config)
        check_public(doc["jwks_uri"])
        return [config["issuer"]], doc["jwks_uri"]

    def verify(self, project: Project, config: dict[str, Any], body: dict[str, Any]) -> ProviderIdentity:
        if "code" not in body:
            return super().verify(project, config, body)
        from basalt.identity.auth_settings import auth_settings

        code, verifier, redirect_uri = _code_body(body, auth_settings(project).redirect_urls)
        return self.exchange(config, code, verifier, redirect_uri, id_tokens.optional_nonce(body))

    def exchange(self, config, code, verifier, redirect_uri, nonce) -> ProviderIdentity:
        doc = _discovery(config)
        if not isinstance(doc.get("token_endpoint"), str):
            raise ProviderUnavailable("The provider has no token endpoint.")
        check_public(doc["token_endpoint"])
        token = _exchange(_session(config, redirect_uri), doc["token_endpoint"], code, verifier)
        if not isinstance(token.get("id_token"), str):
            raise ProviderUnavailable("The provider returned no ID token.")
        return super().verify(None, config, {"id_token": token["id_token"], "nonce": nonce})

    def authorize_url(self, project, config, *, redirect_uri, state, code_challenge, nonce) -> str:
        doc = _discovery(config)
        scopes = " ".join(config.get("scopes") or ["openid", "email", "profile"])
        url, _ = _session(config, redirect_uri, scopes).create_authorization_url(
            doc["authorization_endpoint"],
            state=state,
            code_challenge=code_challenge,
            code_challenge_method="S256",
            nonce=nonce,
        )
        return url


class GitHub(AuthProvider):
    """GitHub's OAuth app flow: code + PKCE, then `/user` and `/user/emails` with the token."""

    name = "github"
    kinds = ("code",)

    def verify(self, project: Project, config: dict[str, Any], body: dict[str, Any]) -> ProviderIdentity:
        from basalt.identity.auth_settings import auth_settings

        if "id_token" in body:
            raise ValidationFailed(details={"code": ["GitHub signs in with an authorization code."]})
        code, verifier, redirect_uri = _code_body(body, auth_settings(project).redirect_urls)
        return self.exchange(config, code, verifier, redirect_uri, None)

    def exchange(self, config, code, verifier, redirect_uri, nonce) -> ProviderIdentity:
        urls = endpoints("github")
        session = _session(config, redirect_uri)
        _exchange(session, urls["token_url"], code, verifier)
        user = self._api(session, urls["api_url"] + "/user")
        emails = self._api(session, urls["api_url"] + "/user/emails")
        if not isinstance(user, dict) or not isinstance(user.get("id"), int):
            raise ProviderUnavailable("GitHub's user answer has no id.")
        email, verified = None, False
        if isinstance(emails, list):
            listed = [e for e in emails if isinstance(e, dict) and isinstance(e.get("email"), str)]
            chosen = next((e for e in listed if e.get("primary") and e.get("verified")), None) or next(
                (e for e in listed if e.get("primary")), None
            )
            if chosen:
                email, verified = chosen["email"].strip().lower()[:254], chosen.get("verified") is True
        return ProviderIdentity(
            provider=self.name,
            subject=str(user["id"]),
            email=email,
            email_verified=verified,
            profile=_profile(user, "login", "name", "avatar_url"),
        )

    @staticmethod
    def _api(session: OAuth2Session, url: str) -> Any:
        try:
            response = session.get(url, headers={"Accept": "application/vnd.github+json"}, allow_redirects=False)
            if response.status_code != 200:
                raise ProviderUnavailable(f"GitHub's API answered HTTP {response.status_code}.")
            return response.json()
        except (requests.RequestException, ValueError, OSError):
            raise ProviderUnavailable()

    def authorize_url(self, project, config, *, redirect_uri, state, code_challenge, nonce) -> str:
        url, _ = _session(config, redirect_uri, "read:user user:email").create_authorization_url(
            endpoints("github")["authorize_url"],
            state=state,
            code_challenge=code_challenge,
            code_challenge_method="S256",
        )
        return url


class Firebase(AuthProvider):
    """Firebase Authentication ID tokens, verified by firebase-admin's own `verify_id_token`.

    One firebase-admin app per Firebase project id, with an explicit credential that never asks
    Google for default credentials; its certificate URL is the one seam (`cert_url`)."""

    name = "firebase"
    _apps: dict[str, Any] = {}
    _lock = threading.Lock()

    def _app(self, project_id: str):
        import firebase_admin
        from firebase_admin import auth, credentials
        from google.auth.credentials import AnonymousCredentials

        class _NoCredential(credentials.Base):
            def get_credential(self):
                return AnonymousCredentials()

        cert_url = endpoints("firebase")["cert_url"]
        key = f"{project_id}|{cert_url}|{timeout()}"
        with self._lock:
            app = self._apps.get(key)
            if app is None:
                app = firebase_admin.initialize_app(
                    _NoCredential(),
                    options={"projectId": project_id, "httpTimeout": timeout()},
                    name=f"basalt-{len(self._apps)}-{project_id}",
                )
                auth._get_client(app)._token_verifier.id_token_verifier.cert_url = cert_url
                self._apps[key] = app
        return app

    def verify(self, project: Project, config: dict[str, Any], body: dict[str, Any]) -> ProviderIdentity:
        from firebase_admin import auth, exceptions

        token = id_tokens.require_token(body)
        nonce = id_tokens.optional_nonce(body)
        project_id = config.get("project_id")
        if not project_id:
            raise ProviderUnavailable("Firebase has no project id configured for this project.")
        try:
            claims = auth.verify_id_token(token, app=self._app(project_id), clock_skew_seconds=60)
        except auth.ExpiredIdTokenError:
            raise TokenExpired("The Firebase token has expired.")
        except auth.CertificateFetchError:
            raise ProviderUnavailable("Firebase's signing certificates could not be fetched.")
        except (auth.InvalidIdTokenError, exceptions.FirebaseError, ValueError, TypeError):
            raise InvalidToken("The Firebase token did not verify.")
        except Exception:  # google-auth raises assorted errors on garbage (binascii, struct, …)
            raise InvalidToken("The Firebase token did not verify.")
        if nonce is not None and not id_tokens._nonce_matches(nonce, claims.get("nonce")):
            raise InvalidToken("The token's nonce does not match.")
        firebase = claims.get("firebase") if isinstance(claims.get("firebase"), dict) else {}
        return ProviderIdentity(
            provider=self.name,
            subject=claims["sub"],
            email=id_tokens.asserted_email(claims),
            email_verified=id_tokens.asserted_verified(claims),
            profile={**_profile(claims, "name", "picture"), **_profile(firebase, "sign_in_provider")},
        )


for _provider in (Google(), Apple(), Oidc(), GitHub(), Firebase()):
    registry.register(_provider)

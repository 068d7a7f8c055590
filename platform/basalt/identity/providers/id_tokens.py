"""OpenID Connect ID-token verification (Google, Apple, generic OIDC) with PyJWT's JWKS client.

Every check is kept: the algorithm is pinned to the asymmetric ones before the key is looked up
(so `alg: none` and HS256-keyed-with-the-public-key never reach a verifier), the key comes from
the provider's JWKS by `kid` (cached; an unknown `kid` refetches the set at most once per
cooldown, `IDENTITY_JWKS_REFRESH_COOLDOWN`, default 30 s), then signature, `iss`, `aud` (one of the
project's client ids), `exp`/`iat` with a small leeway, `sub`, and `nonce` when the client sent one.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import jwt
from django.conf import settings
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from basalt.core.errors import InvalidToken, TokenExpired, ValidationFailed
from basalt.identity.providers import ProviderUnavailable
from basalt.identity.providers.endpoints import jwks_clients, timeout

MAX_TOKEN_LENGTH = 16 * 1024
ALGORITHMS = ("RS256", "ES256")
LEEWAY_SECONDS = 60


def require_token(body: dict[str, Any], field: str = "id_token") -> str:
    token = body.get(field)
    if not isinstance(token, str) or not token:
        raise ValidationFailed(details={field: ["Required: the provider's token as a string."]})
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValidationFailed(details={field: [f"Too long (at most {MAX_TOKEN_LENGTH} characters)."]})
    return token


def optional_nonce(body: dict[str, Any]) -> str | None:
    nonce = body.get("nonce")
    if nonce is None:
        return None
    if not isinstance(nonce, str) or not 1 <= len(nonce) <= 512:
        raise ValidationFailed(details={"nonce": ["Must be a string of at most 512 characters."]})
    return nonce


def _client(jwks_uri: str) -> PyJWKClient:
    cooldown = float(getattr(settings, "IDENTITY_JWKS_REFRESH_COOLDOWN", 30))
    return jwks_clients.get_or_make(
        f"{jwks_uri}|{cooldown}",
        lambda: PyJWKClient(jwks_uri, cache_jwk_set=True, lifespan=3600, timeout=timeout(), cooldown_duration=cooldown),
    )


def signing_key(jwks_uri: str, kid: str):
    try:
        return _client(jwks_uri).get_signing_key(kid)
    except PyJWKClientConnectionError:
        raise ProviderUnavailable("The provider's signing keys could not be fetched.")
    except PyJWKClientError as error:
        if "Unable to find a signing key" in str(error):
            raise InvalidToken("The token is signed by a key the provider does not publish.")
        raise ProviderUnavailable("The provider's signing keys are unusable.")
    except (jwt.PyJWTError, ValueError, OSError):
        raise ProviderUnavailable("The provider's signing keys are unusable.")


def _nonce_matches(sent: str, claimed: Any) -> bool:
    if not isinstance(claimed, str):
        return False
    # Apple (and Firebase's Apple flow) put SHA-256(nonce) in the token; others put the nonce.
    hashed = hashlib.sha256(sent.encode()).hexdigest()
    return hmac.compare_digest(sent.encode(), claimed.encode()) or hmac.compare_digest(
        hashed.encode(), claimed.encode()
    )


def verify(token: str, *, jwks_uri: str, issuers: list[str], audiences: list[str], nonce: str | None) -> dict[str, Any]:
    if not audiences:
        raise ProviderUnavailable("The provider has no client id configured for this project.")
    try:
        header = jwt.get_unverified_header(token)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise InvalidToken("The token is not a JWT.")
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise InvalidToken("The token's algorithm is not accepted.")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 256:
        raise InvalidToken("The token names no signing key.")
    key = signing_key(jwks_uri, kid)
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=list(audiences),
            issuer=list(issuers),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_iat": True},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired("The provider's token has expired.")
    except (jwt.PyJWTError, ValueError, TypeError):
        raise InvalidToken("The provider's token did not verify.")
    if int(claims["iat"]) > time.time() + LEEWAY_SECONDS:
        raise InvalidToken("The provider's token was issued in the future.")
    if not isinstance(claims.get("sub"), str) or not 1 <= len(claims["sub"]) <= 255:
        raise InvalidToken("The provider's token has no usable subject.")
    if nonce is not None and not _nonce_matches(nonce, claims.get("nonce")):
        raise InvalidToken("The token's nonce does not match.")
    return claims


def asserted_verified(claims: dict[str, Any]) -> bool:
    """`email_verified` as the provider asserted it (Apple sends the string "true")."""
    value = claims.get("email_verified")
    return value is True or value == "true"


def asserted_email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    if isinstance(email, str) and 3 <= len(email) <= 254 and "@" in email and "\x00" not in email:
        return email.strip().lower()
    return None

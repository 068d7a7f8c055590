"""Access tokens: short-lived EdDSA JWTs per project, verified with the algorithm pinned."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt
from django.conf import settings

from basalt.core.errors import InvalidToken, TokenExpired
from basalt.identity.keys import ALGORITHM, active_key, verify_key
from basalt.projects.models import Project

MAX_TOKEN_LENGTH = 4096
REFRESH_PREFIX = "rt_"
# Clock skew allowed on exp and iat (basalt.identity.resolver keeps resolutions as long).
LEEWAY_SECONDS = 5


def issuer() -> str:
    return getattr(settings, "BASALT_TOKEN_ISSUER", "basalt")


def audience(project: Project) -> str:
    return project.ref


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    expires_at: int


def issue_access_token(project: Project, user_id: str, session_id: str, ttl: int) -> str:
    kid, private = active_key(project)
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "aud": audience(project),
        "sub": user_id,
        "sid": session_id,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})


def decode_access_token(project: Project, token: str) -> AccessClaims:
    """Verify signature, algorithm, issuer, audience and expiry; anything off is invalid_token."""
    if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
        raise InvalidToken()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken()
    kid = header.get("kid")
    # The algorithm is ours to decide, never the token's: "none", HS256 and friends stop here.
    if header.get("alg") != ALGORITHM or not isinstance(kid, str) or len(kid) > 64:
        raise InvalidToken()
    key = verify_key(kid)
    if key is None or key.project_id != project.pk:
        raise InvalidToken()
    try:
        claims = jwt.decode(
            token,
            key.public,
            algorithms=[ALGORITHM],
            audience=audience(project),
            issuer=issuer(),
            options={"require": ["exp", "iat", "sub", "sid", "aud", "iss"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired()
    except jwt.PyJWTError:
        raise InvalidToken()
    sub, sid = claims.get("sub"), claims.get("sid")
    if not isinstance(sub, str) or not isinstance(sid, str):
        raise InvalidToken()
    return AccessClaims(user_id=sub, session_id=sid, expires_at=int(claims["exp"]))


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def new_one_time_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(raw: str) -> str:
    # Tokens carry 256 random bits, so a fast hash is safe and allows one indexed lookup.
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()

"""Parse session tokens: minted for a Basalt session, resolved to the caller of that session."""

from __future__ import annotations

import secrets
from dataclasses import replace

from basalt.core.caller import Caller
from basalt.identity.resolver import live_user_roles
from basalt.identity.tokens import hash_token
from basalt.parse.errors import INVALID_SESSION_TOKEN, ParseError
from basalt.parse.models import ParseSessionToken

PREFIX = "r:"
MAX_TOKEN_LENGTH = 128


def mint(session_id: str) -> str:
    """A new opaque token for the session (only its hash is kept)."""
    raw = PREFIX + secrets.token_hex(32)
    ParseSessionToken.objects.create(token_hash=hash_token(raw), session_id=session_id)
    return raw


def resolve(caller: Caller, token: str) -> Caller:
    """The key's caller as the token's user, while the Basalt session behind it is live."""
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        raise ParseError(INVALID_SESSION_TOKEN, "Invalid session token")
    row = (
        ParseSessionToken.objects.filter(token_hash=hash_token(token), session__project_id=caller.project.pk)
        .values_list("session_id", "session__user_id")
        .first()
    )
    if row is None:
        raise ParseError(INVALID_SESSION_TOKEN, "Invalid session token")
    session_id, user_id = row
    # The same liveness check as a bearer token: revoked, expired or disabled ends it in both faces.
    roles = live_user_roles(caller.project.pk, user_id, session_id)
    if roles is None:
        raise ParseError(INVALID_SESSION_TOKEN, "Invalid session token")
    return replace(caller, user_id=user_id, session_id=session_id, roles=roles)


def resolve_bearer(caller: Caller, token: str) -> Caller:
    """The same check for a token met outside the Parse face (a LiveQuery connection's periodic
    re-check goes through basalt.projects.caller.with_bearer): Basalt's error type there."""
    from basalt.core.errors import InvalidToken

    try:
        return resolve(caller, token)
    except ParseError:
        raise InvalidToken("The session has ended; sign in again.") from None

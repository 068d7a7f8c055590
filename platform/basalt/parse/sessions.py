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


# token -> (project ref, caller epoch, user id, session id, roles), as the native bearer cache
# (identity.resolver._resolved) keeps them and by its rule: an entry is used only under the
# project's caller epoch it was made under, read with the key on every request, and every
# revocation (a logout in either face included), disable or role change bumps that epoch. A Parse
# token has no expiry of its own (it ends with its session), so the epoch is the whole condition.
_resolved: dict[str, tuple[str, int, str, str, frozenset[str]]] = {}
RESOLVED_CACHE_SIZE = 20_000


def forget_resolved() -> None:
    _resolved.clear()


def resolve(caller: Caller, token: str) -> Caller:
    """The key's caller as the token's user, while the Basalt session behind it is live."""
    if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        raise ParseError(INVALID_SESSION_TOKEN, "Invalid session token")
    project = caller.project
    epoch = getattr(project, "caller_epoch", None)
    hit = _resolved.get(token)
    if hit is not None and epoch is not None and hit[0] == project.ref and hit[1] == epoch:
        return replace(caller, user_id=hit[2], session_id=hit[3], roles=hit[4])
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
    if epoch is not None:
        if len(_resolved) >= RESOLVED_CACHE_SIZE:
            _resolved.clear()
        _resolved[token] = (project.ref, epoch, user_id, session_id, roles)
    return replace(caller, user_id=user_id, session_id=session_id, roles=roles)


def resolve_bearer(caller: Caller, token: str) -> Caller:
    """The same check for a token met outside the Parse face (a LiveQuery connection's periodic
    re-check goes through basalt.projects.caller.with_bearer): Basalt's error type there."""
    from basalt.core.errors import InvalidToken

    try:
        return resolve(caller, token)
    except ParseError:
        raise InvalidToken("The session has ended; sign in again.") from None

"""Turn (API-key caller, bearer token) into an end-user caller: token, session and roles checked."""

from __future__ import annotations

from dataclasses import replace

from basalt.core.caller import Caller
from basalt.core.errors import InvalidToken
from basalt.identity.roles import held_roles
from basalt.identity.sessions import live_session_user
from basalt.identity.tokens import decode_access_token


def resolve_bearer(caller: Caller, token: str) -> Caller:
    """Two indexed queries per request: the live session row, then every role held (recursive)."""
    claims = decode_access_token(caller.project, token)
    if not live_session_user(caller.project, claims.user_id, claims.session_id):
        raise InvalidToken("The session has ended; sign in again.")
    return replace(
        caller, user_id=claims.user_id, session_id=claims.session_id, roles=held_roles(caller.project, claims.user_id)
    )

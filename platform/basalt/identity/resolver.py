"""Turn (API-key caller, bearer token) into an end-user caller: token, session and roles checked."""

from __future__ import annotations

import time
from dataclasses import replace

from django.db import connection

from basalt.core.caller import Caller
from basalt.core.errors import InvalidToken
from basalt.identity.models import EndUser, Role, RoleInheritance, RoleMember, Session
from basalt.identity.roles import MAX_HELD_ROLES
from basalt.identity.tokens import LEEWAY_SECONDS, decode_access_token

# One statement per request: no row when the session is revoked, the user deleted or disabled,
# or either belongs to another project; otherwise one row per held role (inherited ones through
# the recursive part, which UNION stops on any loop), or a single row with NULL for no role.
_LIVE_SESSION_AND_ROLES = f"""
WITH RECURSIVE held(id) AS (
    SELECT m.role_id FROM {RoleMember._meta.db_table} m WHERE m.user_id = %s
    UNION
    SELECT e.parent_id FROM {RoleInheritance._meta.db_table} e JOIN held h ON e.child_id = h.id
)
SELECT live.ok, roles.name FROM (
    SELECT 1 AS ok FROM {Session._meta.db_table} s JOIN {EndUser._meta.db_table} u ON u.id = s.user_id
    WHERE s.id = %s AND s.user_id = %s AND s.project_id = %s AND s.revoked_at IS NULL
      AND u.project_id = %s AND u.disabled = %s
) live LEFT JOIN (
    SELECT r.name FROM {Role._meta.db_table} r JOIN held ON r.id = held.id WHERE r.project_id = %s
    LIMIT {MAX_HELD_ROLES}
) roles ON 1 = 1
"""  # noqa: S608 - table names from model metadata; every value is a parameter


def live_user_roles(project_id: int, user_id: str, session_id: str) -> frozenset[str] | None:
    """Every role the user holds if the session is live, else None — in one indexed query."""
    with connection.cursor() as cursor:
        cursor.execute(
            _LIVE_SESSION_AND_ROLES, [user_id, session_id, user_id, project_id, project_id, False, project_id]
        )
        rows = cursor.fetchall()
    if not rows:
        return None
    return frozenset(name for _, name in rows if name is not None)


# token -> (project ref, caller epoch, usable until (epoch seconds), user id, session id, roles).
# Only successful resolutions are kept. An entry is used while the project's caller epoch, read
# with the API key on every request, is the one it was made under (any revocation, disable or
# role change bumps it: basalt.identity.models.CallerEpoch) and the token has not expired (the
# same leeway as the full check). Dict reads and writes are atomic under the GIL.
_resolved: dict[str, tuple[str, int, float, str, str, frozenset[str]]] = {}
RESOLVED_CACHE_SIZE = 20_000


def forget_resolved() -> None:
    _resolved.clear()


def resolve_bearer(caller: Caller, token: str) -> Caller:
    """Verify the token for the key's project, then check the session and load roles (one query).

    Skipped when this process resolved the same token under the project's current caller epoch.
    """
    project = caller.project
    epoch = getattr(project, "caller_epoch", None)
    hit = _resolved.get(token)
    if hit is not None and epoch is not None and hit[0] == project.ref and hit[1] == epoch and time.time() < hit[2]:
        return replace(caller, user_id=hit[3], session_id=hit[4], roles=hit[5])
    claims = decode_access_token(project, token)
    roles = live_user_roles(project.pk, claims.user_id, claims.session_id)
    if roles is None:
        raise InvalidToken("The session has ended; sign in again.")
    if epoch is not None:
        if len(_resolved) >= RESOLVED_CACHE_SIZE:
            _resolved.clear()
        usable_until = claims.expires_at + LEEWAY_SECONDS
        _resolved[token] = (project.ref, epoch, usable_until, claims.user_id, claims.session_id, roles)
    return replace(caller, user_id=claims.user_id, session_id=claims.session_id, roles=roles)

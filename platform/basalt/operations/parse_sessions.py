"""Parse Server `_Session` rows as sessions of the Parse face: a migrated app's users stay signed in.

Basalt's Parse face (basalt.parse) answers `r:` session tokens, each kept as its SHA-256 and naming
a Basalt session. An imported `_Session` row becomes exactly that: a Basalt session of the user
(revocable like any other: logout in either face, password change, disabling the user) and the
hash of the Parse token. The token itself is never stored. Rows already expired, without a user
that the export holds, or with a token that is not a Parse `r:` token are counted, not imported.
A session lives until its Parse `expiresAt` (or this project's refresh lifetime when it has none).
The sessions are written in the import's own transaction, after its users (`import_archive`'s
`finish`), so an import that fails leaves none behind.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from basalt.core.times import as_utc
from basalt.identity.auth_settings import auth_settings
from basalt.identity.models import Session
from basalt.identity.tokens import hash_token
from basalt.parse.models import ParseSessionToken
from basalt.parse.sessions import MAX_TOKEN_LENGTH, PREFIX

Found = tuple[str, str, datetime | None, datetime | None]  # user id, token, expires, created


def _moment(raw: Any) -> datetime | None:
    if isinstance(raw, dict):
        raw = raw.get("iso")
    if not isinstance(raw, str):
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return as_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def read(rows: list[dict[str, Any]], user_id) -> tuple[list[Found], dict[str, int]]:
    """The importable sessions (`user_id` maps a Parse user objectId, or None) and the others counted by reason."""
    now = datetime.now(UTC)
    found: list[Found] = []
    left_out: dict[str, int] = {}
    seen: set[str] = set()
    for row in rows:
        token, owner = row.get("sessionToken"), row.get("user")
        expires = _moment(row.get("expiresAt"))
        reason = None
        if not isinstance(token, str) or not token.startswith(PREFIX) or len(token) > MAX_TOKEN_LENGTH:
            reason = "token"
        elif token in seen:
            reason = "same_token"
        elif not isinstance(owner, dict) or owner.get("className") != "_User" or user_id(owner.get("objectId")) is None:
            reason = "user"
        elif expires is not None and expires <= now:
            reason = "expired"
        if reason:
            left_out[reason] = left_out.get(reason, 0) + 1
            continue
        seen.add(token)
        found.append((user_id(owner.get("objectId")), token, expires, _moment(row.get("createdAt"))))
    return found, left_out


def write(project, found: list[Found], ids) -> int:
    """Sessions and token hashes for the imported users (`ids`: the import's final id of each user)."""
    lifetime = timedelta(seconds=auth_settings(project).refresh_token_ttl)
    now = datetime.now(UTC)
    sessions, tokens = [], []
    for user, token, expires, created in found:
        session = Session(
            project=project, user_id=ids(user), refresh_expires_at=expires or now + lifetime,
            # No refresh token was ever handed out for it: the hash of one nobody holds.
            refresh_hash=hash_token(secrets.token_hex(32)), user_agent="imported from Parse",
            created_at=created or now, last_used_at=created or now,
        )  # fmt: skip
        sessions.append(session)
        tokens.append(ParseSessionToken(token_hash=hash_token(token), session=session, created_at=created or now))
    Session.objects.bulk_create(sessions, batch_size=1000)
    ParseSessionToken.objects.bulk_create(tokens, batch_size=1000)
    return len(sessions)

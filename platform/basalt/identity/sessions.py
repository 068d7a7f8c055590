"""Sessions: refresh-token rotation with reuse detection, revocation, and the per-request check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from basalt.core.errors import InvalidToken, TokenExpired
from basalt.identity import events
from basalt.identity.auth_settings import auth_settings
from basalt.identity.models import EndUser, Session, SpentRefreshToken
from basalt.identity.tokens import REFRESH_PREFIX, hash_token, issue_access_token, new_refresh_token
from basalt.projects.models import Project

MAX_REFRESH_LENGTH = 128
SESSION_ID = re.compile(r"\A[a-z0-9]{1,32}\Z")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session: Session

    def as_dict(self) -> dict:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "session_id": self.session.id,
        }


def _pair(project: Project, session: Session, refresh: str) -> TokenPair:
    ttl = auth_settings(project).access_token_ttl
    access = issue_access_token(project, session.user_id, session.id, ttl)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=ttl, session=session)


def start_session(user: EndUser, *, user_agent: str = "", ip: str = "") -> TokenPair:
    """Open a session for a user who just proved who they are (call inside a transaction).

    Past the project's `max_sessions_per_user`, the least recently used live sessions end, so
    a stolen password or a scripted client cannot pile up sessions nobody can review."""
    project = user.project
    refresh = new_refresh_token()
    now = timezone.now()
    # The user's row lock serialises concurrent sign-ins, so the cap holds exactly.
    EndUser.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
    _end_beyond(user, auth_settings(project).max_sessions_per_user - 1, now)
    session = Session.objects.create(
        project=project,
        user=user,
        refresh_hash=hash_token(refresh),
        refresh_expires_at=now + timedelta(seconds=auth_settings(project).refresh_token_ttl),
        user_agent=user_agent[:256],
        ip=ip[:64],
        created_at=now,
        last_used_at=now,
    )
    return _pair(project, session, refresh)


def _end_beyond(user: EndUser, keep: int, now) -> None:
    """Revoke the user's live sessions past the `keep` most recently used."""
    live = Session.objects.filter(user=user, revoked_at__isnull=True, refresh_expires_at__gt=now)
    stale = list(live.order_by("-last_used_at", "-created_at", "-pk").values_list("pk", flat=True)[keep:])
    if stale:
        revoke_sessions(Session.objects.filter(pk__in=stale), reason="session_limit")


def refresh(project: Project, raw: object) -> TokenPair:
    """Exchange a refresh token for a new pair; a spent token revokes its whole session."""
    if not isinstance(raw, str) or not raw.startswith(REFRESH_PREFIX) or len(raw) > MAX_REFRESH_LENGTH:
        raise InvalidToken("The refresh token is invalid.")
    digest = hash_token(raw)
    session = _rotate(project, digest)
    if session is None:
        # Outside the rotation transaction, so the revocation commits even though we refuse.
        _detect_reuse(project, digest)
        raise InvalidToken("The refresh token is invalid.")
    session, new_raw = session
    return _pair(project, session, new_raw)


@transaction.atomic
def _rotate(project: Project, digest: str) -> tuple[Session, str] | None:
    now = timezone.now()
    session = (
        Session.objects.select_for_update().select_related("user").filter(project=project, refresh_hash=digest).first()
    )
    if session is None:
        return None
    if session.revoked_at is not None or session.user.disabled:
        raise InvalidToken("The session has been revoked.")
    if session.refresh_expires_at <= now:
        raise TokenExpired("The refresh token has expired.")
    try:
        with transaction.atomic():
            SpentRefreshToken.objects.create(token_hash=digest, session=session, spent_at=now)
    except IntegrityError:
        raise InvalidToken("The refresh token is invalid.")
    new_raw = new_refresh_token()
    Session.objects.filter(pk=session.pk).update(
        refresh_hash=hash_token(new_raw),
        rotated_at=now,
        last_used_at=now,
        refresh_expires_at=now + timedelta(seconds=auth_settings(project).refresh_token_ttl),
    )
    return session, new_raw


def _detect_reuse(project: Project, digest: str) -> None:
    spent = SpentRefreshToken.objects.filter(token_hash=digest, session__project=project).first()
    if spent is not None:
        # Either the thief or the rightful client is replaying: neither may continue.
        revoke_sessions(Session.objects.filter(pk=spent.session_id), reason="refresh_reuse")


def revoke_sessions(queryset, *, reason: str) -> int:
    """Revoke the live sessions of `queryset` and tell subscribers once the revocation commits."""
    live = list(queryset.filter(revoked_at__isnull=True).values_list("pk", "project_id"))
    if not live:
        return 0
    count = Session.objects.filter(pk__in=[pk for pk, _ in live], revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=reason
    )
    events.publish_on_commit(events.SessionsEnded(live[0][1], tuple(pk for pk, _ in live), reason))
    return count


def revoke_session(project: Project, user_id: str, session_id: object) -> None:
    """Revoke one of the user's own sessions; another user's session is simply not found."""
    from basalt.core.errors import NotFound

    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        raise NotFound()
    count = revoke_sessions(Session.objects.filter(project=project, user_id=user_id, pk=session_id), reason="revoked")
    if count == 0 and not Session.objects.filter(project=project, user_id=user_id, pk=session_id).exists():
        raise NotFound()


def revoke_all(user: EndUser, *, except_session: str | None = None, reason: str) -> int:
    queryset = Session.objects.filter(user=user)
    if except_session:
        queryset = queryset.exclude(pk=except_session)
    return revoke_sessions(queryset, reason=reason)


def list_sessions(project: Project, user_id: str) -> list[Session]:
    now = timezone.now()
    return list(
        Session.objects.filter(
            project=project, user_id=user_id, revoked_at__isnull=True, refresh_expires_at__gt=now
        ).order_by("-last_used_at")[:200]
    )

"""Console sessions: refresh-token rotation with reuse detection, revocation, the per-request check.

A sign-in opens a `ConsoleSession`; its tokens (simplejwt, HS256, `aud: basalt-console`) carry the
session id (`sid`) and the account's token generation (`gen`). Every request checks both, so
signing out, revoking every session (password change or reset, "sign out everywhere") and a
replayed refresh token act on the very next request, not at expiry.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token

from basalt.accounts.models import Account, ConsoleSession
from basalt.core.errors import InvalidToken, TokenExpired

SESSION_CLAIM = "sid"
GENERATION_CLAIM = "gen"


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str

    def as_dict(self) -> dict[str, str]:
        return {"access": self.access, "refresh": self.refresh}


def _refresh_lifetime():
    return settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]


def _mint(account: Account, session: ConsoleSession, generation: int) -> tuple[RefreshToken, TokenPair]:
    refresh = RefreshToken.for_user(account)
    refresh[SESSION_CLAIM] = session.pk
    refresh[GENERATION_CLAIM] = generation
    # The access token copies every claim but type, expiry and jti: it names the same session.
    return refresh, TokenPair(access=str(refresh.access_token), refresh=str(refresh))


def start(account: Account) -> TokenPair:
    """Open a session for an account that just proved its password."""
    # The generation read before the session row exists: a revocation that commits in between
    # moves it on, and the new tokens are refused rather than outliving it.
    generation = Account.objects.filter(pk=account.pk).values_list("token_generation", flat=True).get()
    now = timezone.now()
    session = ConsoleSession(account=account, created_at=now, last_used_at=now)
    refresh, pair = _mint(account, session, generation)
    session.refresh_jti = refresh[api_settings.JTI_CLAIM]
    session.refresh_expires_at = now + _refresh_lifetime()
    session.save(force_insert=True)
    return pair


def decode(token_class: type[Token], raw: object, *, expired: str, invalid: str) -> Token:
    """Verify a console JWT of the given type (signature, audience, expiry), in the API's error codes."""
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", "replace")
    if not isinstance(raw, str) or not raw or len(raw) > 2048:
        raise InvalidToken(invalid)
    try:
        return token_class(raw)
    except ExpiredTokenError:
        raise TokenExpired(expired) from None
    except TokenError:
        raise InvalidToken(invalid) from None


def refresh(raw: object) -> TokenPair:
    """Exchange a refresh token for a new pair; presenting a spent one ends its whole session."""
    token = decode(
        RefreshToken,
        raw,
        expired="The refresh token has expired; sign in again.",
        invalid="The refresh token is invalid.",
    )
    outcome = _rotate(token)
    if outcome is None:
        # Committed outside the refused rotation: the thief's and the owner's tokens both die.
        revoke_sessions(ConsoleSession.objects.filter(pk=str(token.get(SESSION_CLAIM, ""))), reason="refresh_reuse")
        raise InvalidToken("The refresh token was already used; the session has been ended.")
    return outcome


@transaction.atomic
def _rotate(token: Token) -> TokenPair | None:
    """The new pair, or None when the token is a replay of an already-rotated one."""
    session = (
        ConsoleSession.objects.select_for_update(of=("self",))
        .select_related("account")
        .filter(pk=str(token.get(SESSION_CLAIM, "")), account_id=_account_id(token))
        .first()
    )
    if session is None or not _live(session, token):
        raise InvalidToken("The session has ended; sign in again.")
    if session.refresh_jti != token.get(api_settings.JTI_CLAIM):
        return None
    now = timezone.now()
    new_refresh, pair = _mint(session.account, session, session.account.token_generation)
    session.refresh_jti = new_refresh[api_settings.JTI_CLAIM]
    session.refresh_expires_at = now + _refresh_lifetime()
    session.last_used_at = now
    session.save(update_fields=["refresh_jti", "refresh_expires_at", "last_used_at"])
    return pair


def _account_id(token: Token) -> int:
    value = str(token.get(api_settings.USER_ID_CLAIM, ""))
    if not value.isascii() or not value.isdecimal() or len(value) > 18:
        raise InvalidToken("The console token is invalid.")
    return int(value)


def _live(session: ConsoleSession, token: Token) -> bool:
    return (
        session.revoked_at is None
        and session.account.is_active
        and token.get(GENERATION_CLAIM) == session.account.token_generation
    )


def account_for(token: Token) -> Account:
    """The account an access token speaks for, if its session and generation are still live."""
    session_id = token.get(SESSION_CLAIM)
    if not isinstance(session_id, str) or not session_id:
        raise InvalidToken("The console token is invalid.")
    # One query per request: the session joined to its account.
    session = (
        ConsoleSession.objects.select_related("account").filter(pk=session_id, account_id=_account_id(token)).first()
    )
    if session is None or not _live(session, token):
        raise InvalidToken("The console token is no longer valid; sign in again.")
    return session.account


def revoke_sessions(queryset, *, reason: str) -> int:
    return queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now(), revoked_reason=reason)


def sign_out(token: Token) -> None:
    """End the session the access token belongs to (its refresh token with it)."""
    revoke_sessions(ConsoleSession.objects.filter(pk=str(token.get(SESSION_CLAIM, ""))), reason="signed_out")


@transaction.atomic
def revoke_all(account: Account, *, reason: str) -> None:
    """End every console session of the account: API tokens and web sessions, everywhere."""
    Account.objects.filter(pk=account.pk).update(token_generation=F("token_generation") + 1)
    account.token_generation = (
        Account.objects.filter(pk=account.pk).values_list("token_generation", flat=True).first() or 0
    )
    revoke_sessions(ConsoleSession.objects.filter(account=account), reason=reason)

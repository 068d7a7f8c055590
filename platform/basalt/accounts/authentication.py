"""Console bearer tokens: simplejwt access tokens, refused with the API's own error codes."""

from __future__ import annotations

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken, Token

from basalt.accounts import sessions
from basalt.accounts.models import Account


class ConsoleJWTAuthentication(JWTAuthentication):
    """Accept only console access tokens (aud basalt-console, HS256, unexpired, live session)."""

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="basalt-console"'

    def get_validated_token(self, raw_token: bytes) -> Token:
        return sessions.decode(
            AccessToken,
            raw_token,
            expired="The console token has expired; refresh it.",
            invalid="The console token is invalid.",
        )

    def get_user(self, validated_token: Token) -> Account:
        # A revoked session, a moved-on token generation (password change, sign out everywhere)
        # and a deleted or deactivated account stop the token at once, not at expiry.
        return sessions.account_for(validated_token)

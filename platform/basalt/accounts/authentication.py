"""Console bearer tokens: simplejwt access tokens, refused with the API's own error codes."""

from __future__ import annotations

from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken, Token

from basalt.accounts.models import Account
from basalt.core.errors import InvalidToken, TokenExpired


class ConsoleJWTAuthentication(JWTAuthentication):
    """Accept only console access tokens (aud basalt-console, HS256, unexpired, active account)."""

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="basalt-console"'

    def get_validated_token(self, raw_token: bytes) -> Token:
        try:
            return AccessToken(raw_token)
        except ExpiredTokenError:
            raise TokenExpired("The console token has expired; refresh it.") from None
        except TokenError:
            raise InvalidToken("The console token is invalid.") from None

    def get_user(self, validated_token: Token) -> Account:
        account_id = str(validated_token.get(api_settings.USER_ID_CLAIM, ""))
        account = Account.objects.filter(pk=int(account_id)).first() if account_id.isdecimal() else None
        # A deleted or deactivated account's tokens stop working at once, not at expiry.
        if account is None or not account.is_active:
            raise InvalidToken("The console token is invalid.")
        return account

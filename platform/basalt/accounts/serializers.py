"""Console sign-up and email changes: one normalised, case-insensitively unique address per account."""

from __future__ import annotations

from django.contrib.auth.base_user import BaseUserManager
from djoser import utils as djoser_utils
from djoser.serializers import (
    PasswordResetConfirmSerializer,
    SetUsernameSerializer,
    UserCreateSerializer,
    UsernameResetConfirmSerializer,
)
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer

from basalt.accounts import sessions, signin
from basalt.accounts.models import Account

EMAIL_TAKEN = "This email address is already registered."


def available_email(value: str, exclude_pk: int | None = None) -> str:
    """Normalise an address and refuse one that another account holds in any letter case."""
    email = BaseUserManager.normalize_email(value.strip()).lower()
    taken = Account.objects.filter(email__iexact=email)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        # Say only that the address is taken: nothing about the account that holds it.
        raise serializers.ValidationError(EMAIL_TAKEN)
    return email


class AccountCreateSerializer(UserCreateSerializer):
    # Declared to drop ModelSerializer's case-sensitive UniqueValidator; validate_email checks instead.
    email = serializers.EmailField(max_length=254)

    class Meta(UserCreateSerializer.Meta):
        model = Account
        fields = ("id", "email", "password")

    def validate_email(self, value: str) -> str:
        return available_email(value)


class _NewEmailMixin:
    def validate_new_email(self, value: str) -> str:
        user = getattr(self, "user", None) or self.context["request"].user
        return available_email(value, exclude_pk=getattr(user, "pk", None))


class AccountSetEmailSerializer(_NewEmailMixin, SetUsernameSerializer):
    pass


class AccountResetEmailConfirmSerializer(_NewEmailMixin, UsernameResetConfirmSerializer):
    pass


class AccountPasswordResetConfirmSerializer(PasswordResetConfirmSerializer):
    """djoser checks the new password against `request.user` before it reads the uid; Basalt's
    anonymous user is None, so every reset confirmation was a 500. Resolve the account first."""

    def validate(self, attrs: dict) -> dict:
        try:
            self.user = Account.objects.get(pk=djoser_utils.decode_uid(self.initial_data.get("uid", "")))
        except (Account.DoesNotExist, ValueError, TypeError, OverflowError):
            raise serializers.ValidationError({"uid": [self.error_messages["invalid_uid"]]}, code="invalid_uid")
        return super().validate(attrs)


class SignInSerializer(TokenObtainPairSerializer):
    """`{email, password}` → `{access, refresh}` of a new console session."""

    def validate(self, attrs: dict) -> dict[str, str]:
        self.user = signin.authenticate(self.context["request"], attrs["email"], attrs["password"])
        from basalt.identity.console_mfa import require_code

        # An account with an authenticator app also sends its current code as `otp`.
        require_code(self.user, self.initial_data.get("otp") if isinstance(self.initial_data, dict) else None)
        return sessions.start(self.user).as_dict()


class RefreshSerializer(TokenRefreshSerializer):
    """`{refresh}` → a new `{access, refresh}`; the refresh token presented is spent."""

    def validate(self, attrs: dict) -> dict[str, str]:
        return sessions.refresh(attrs["refresh"]).as_dict()

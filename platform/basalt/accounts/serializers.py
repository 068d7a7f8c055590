"""Console sign-up and email changes: one normalised, case-insensitively unique address per account."""

from __future__ import annotations

from django.contrib.auth.base_user import BaseUserManager
from djoser.serializers import SetUsernameSerializer, UserCreateSerializer, UsernameResetConfirmSerializer
from rest_framework import serializers

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

"""Console sign-up: email + password only, validated by Django's password validators."""

from djoser.serializers import UserCreateSerializer

from basalt.accounts.models import Account


class AccountCreateSerializer(UserCreateSerializer):
    class Meta(UserCreateSerializer.Meta):
        model = Account
        fields = ("id", "email", "password")

    def validate_email(self, value: str) -> str:
        return value.strip().lower()

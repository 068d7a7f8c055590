from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "basalt.accounts"
    label = "accounts"
    verbose_name = "Console accounts"

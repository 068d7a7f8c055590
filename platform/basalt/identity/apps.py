from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "basalt.identity"
    label = "identity"

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "basalt.core"
    label = "core"

from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "basalt.usage"
    label = "usage"
    verbose_name = "Usage metering"

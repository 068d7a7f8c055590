from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "basalt.operations"
    label = "operations"
    verbose_name = "Operations: idempotency, metrics"

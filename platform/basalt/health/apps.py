from django.apps import AppConfig


class HealthConfig(AppConfig):
    name = "basalt.health"
    label = "health"

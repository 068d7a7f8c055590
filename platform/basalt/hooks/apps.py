from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "basalt.hooks"
    label = "hooks"
    verbose_name = "Webhooks and scheduled jobs"

    def ready(self) -> None:
        from basalt.hooks import changelog

        changelog.listen()

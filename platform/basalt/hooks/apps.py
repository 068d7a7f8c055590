from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "basalt.hooks"
    label = "hooks"
    verbose_name = "Webhooks and scheduled jobs"

    def ready(self) -> None:
        from basalt.hooks import area_events, changelog

        changelog.listen()
        area_events.connect()

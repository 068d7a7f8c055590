from django.apps import AppConfig


class LogsConfig(AppConfig):
    name = "basalt.logs"
    label = "basalt_logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The project settings section `logs` ({"retention_days": 1..90}), set through the same
        # settings service as every other section (management API and console).
        from basalt.logs.settings import validate_logs_section
        from basalt.projects.project_settings import SECTION_VALIDATORS

        SECTION_VALIDATORS["logs"] = validate_logs_section

from django.apps import AppConfig


class ParseConfig(AppConfig):
    name = "basalt.parse"
    label = "parse"
    verbose_name = "Parse-compatible face"

    def ready(self) -> None:
        from basalt.parse.settings_section import validate_parse_section
        from basalt.projects.project_settings import SECTION_VALIDATORS

        SECTION_VALIDATORS["parse"] = validate_parse_section
        from basalt.parse.sessions import PREFIX, resolve_bearer
        from basalt.projects.caller import register_bearer_resolver

        register_bearer_resolver(resolve_bearer, prefix=PREFIX)

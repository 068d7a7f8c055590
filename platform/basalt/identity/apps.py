from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "basalt.identity"
    label = "identity"
    verbose_name = "App end-users"

    def ready(self) -> None:
        from basalt.identity.auth_settings import validate_auth_section
        from basalt.identity.resolver import resolve_bearer
        from basalt.projects.caller import register_bearer_resolver
        from basalt.projects.project_settings import SECTION_VALIDATORS

        register_bearer_resolver(resolve_bearer)
        SECTION_VALIDATORS["auth"] = validate_auth_section

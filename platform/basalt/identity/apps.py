from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "basalt.identity"
    label = "identity"
    verbose_name = "App end-users"

    def ready(self) -> None:
        import basalt.identity.providers.builtin  # noqa: F401  (registers google, apple, firebase, oidc, github)
        from basalt.identity.auth_settings import redact_auth_section, validate_auth_section
        from basalt.identity.resolver import resolve_bearer
        from basalt.projects.caller import register_bearer_resolver
        from basalt.projects.project_settings import SECTION_REDACTORS, SECTION_VALIDATORS

        register_bearer_resolver(resolve_bearer)
        SECTION_VALIDATORS["auth"] = validate_auth_section
        SECTION_REDACTORS["auth"] = redact_auth_section
        from basalt.identity.console_mfa import enforce
        from basalt.projects.services import ACCESS_CHECKS

        ACCESS_CHECKS.append(enforce)

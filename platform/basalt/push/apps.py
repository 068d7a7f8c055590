from django.apps import AppConfig


class PushConfig(AppConfig):
    name = "basalt.push"
    label = "push"
    verbose_name = "Push notifications"

    def ready(self) -> None:
        from basalt.projects.project_settings import SECTION_REDACTORS, SECTION_VALIDATORS
        from basalt.projects.services import BUILTIN_COLLECTIONS
        from basalt.push import credentials
        from basalt.push.builtin import installations_collection

        SECTION_VALIDATORS["push"] = credentials.validate_push_section
        SECTION_REDACTORS["push"] = credentials.redact_push_section
        if installations_collection not in BUILTIN_COLLECTIONS:
            BUILTIN_COLLECTIONS.append(installations_collection)
        from basalt.documents.openapi import FRAGMENTS
        from basalt.push.openapi import fragment

        if fragment not in FRAGMENTS:
            FRAGMENTS.append(fragment)
        from basalt.files.sweep import REFERENCE_SOURCES
        from basalt.push.installations import referenced_files

        if referenced_files not in REFERENCE_SOURCES:
            REFERENCE_SOURCES.append(referenced_files)

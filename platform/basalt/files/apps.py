from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "basalt.files"
    label = "files"
    verbose_name = "Files"

    def ready(self) -> None:
        from basalt.files import config, signals  # noqa: F401
        from basalt.projects.project_settings import SECTION_VALIDATORS

        SECTION_VALIDATORS["files"] = config.validate_files_section
        from basalt.documents.render import CALLER_RENDERERS
        from basalt.documents.writes import REFERENCE_CHECKS
        from basalt.files.fields import check_file_references, file_fields

        if file_fields not in CALLER_RENDERERS:
            CALLER_RENDERERS.append(file_fields)
        if check_file_references not in REFERENCE_CHECKS:
            REFERENCE_CHECKS.append(check_file_references)
        from basalt.files.ingest import stored_bytes
        from basalt.usage.sizes import STORAGE_CONTRIBUTORS

        if stored_bytes not in STORAGE_CONTRIBUTORS:
            STORAGE_CONTRIBUTORS.append(stored_bytes)

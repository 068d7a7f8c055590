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
        from basalt.files.fields import render_file_fields

        if render_file_fields not in CALLER_RENDERERS:
            CALLER_RENDERERS.append(render_file_fields)
        from basalt.files.ingest import stored_bytes
        from basalt.usage.sizes import STORAGE_CONTRIBUTORS

        if stored_bytes not in STORAGE_CONTRIBUTORS:
            STORAGE_CONTRIBUTORS.append(stored_bytes)

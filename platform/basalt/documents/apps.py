from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "basalt.documents"
    label = "documents"

    def ready(self) -> None:
        from basalt.documents import signals  # noqa: F401 (receivers)
        from basalt.documents.query import re2match

        re2match.install()

from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "basalt.documents"
    label = "documents"

    def ready(self) -> None:
        from basalt.documents.query import re2match

        re2match.install()

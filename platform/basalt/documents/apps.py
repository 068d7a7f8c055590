from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "basalt.documents"
    label = "documents"

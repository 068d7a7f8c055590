from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "basalt.operations"
    label = "operations"
    verbose_name = "Operations: idempotency, metrics, audit, export / import"

    def ready(self):
        # The `export` job kind lives with exports; hooks' scheduler finds it in its kind registry.
        from basalt.hooks import job_kinds
        from basalt.operations.export_job import ExportJob

        job_kinds.register(ExportJob())
        from basalt.documents.openapi import TRANSFORMS
        from basalt.operations import signals  # noqa: F401 (a deleted project's archives go with it)
        from basalt.operations.idempotency import declare_in_openapi

        # The Idempotency-Key header is declared on the writes that honour it, in every OpenAPI document.
        if declare_in_openapi not in TRANSFORMS:
            TRANSFORMS.append(declare_in_openapi)

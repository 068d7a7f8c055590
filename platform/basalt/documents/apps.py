from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "basalt.documents"
    label = "documents"

    def ready(self) -> None:
        from basalt.documents import signals  # noqa: F401 (receivers)
        from basalt.documents.query import re2match

        re2match.install()
        from basalt.core import loop_lane

        # Reads, finds and counts (under the loop's budget), creates, updates and deletes of one
        # document may be answered on `serve`'s event loop.
        loop_lane.register(r"/api/v1/collections/[^/]+/documents/?\Z", ("GET", "HEAD", "POST"))
        loop_lane.register(r"/api/v1/collections/[^/]+/documents/[^/]+/?\Z", ("GET", "HEAD", "PATCH", "PUT", "DELETE"))

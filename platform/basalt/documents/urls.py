"""Public data-API routes of this area, mounted under /api/v1/ by basalt.urls."""

from django.urls import re_path

from basalt.documents.api import batch, documents, openapi, schema

NAME = r"(?P<name>[^/]+)"

urlpatterns = [
    re_path(rf"^collections/{NAME}/documents/?$", documents.documents),
    re_path(rf"^collections/{NAME}/documents/(?P<doc_id>[^/]+)/?$", documents.document),
    re_path(rf"^collections/{NAME}/query/?$", documents.query),
    re_path(r"^batch/?$", batch.batch),
    re_path(r"^schema/collections/?$", schema.collections),
    re_path(rf"^schema/collections/{NAME}/?$", schema.collection),
    re_path(r"^openapi\.json$", openapi.project_document),
]

"""Management-API routes of this area, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.documents.api.schema import ManageCollectionsView, ManageCollectionView

REF = r"(?P<ref>[^/]+)"

urlpatterns = [
    re_path(rf"^projects/{REF}/collections/?$", ManageCollectionsView.as_view()),
    re_path(rf"^projects/{REF}/collections/(?P<name>[^/]+)/?$", ManageCollectionView.as_view()),
]

"""Public data-API routes of the files area, mounted under /api/v1/ by basalt.urls."""

from django.urls import re_path

from basalt.files import api

ID = r"(?P<file_id>[^/]+)"

urlpatterns = [
    re_path(r"^files/?$", api.files),
    re_path(r"^files/tus/?$", api.tus_root),
    re_path(r"^files/tus/(?P<upload_id>[^/]+)/?$", api.tus_upload),
    re_path(r"^files/uploads/?$", api.uploads),
    re_path(rf"^files/uploads/{ID}/?$", api.direct_put),
    re_path(rf"^files/{ID}/complete/?$", api.complete),
    re_path(rf"^files/{ID}/content/?$", api.content),
    re_path(rf"^files/{ID}/url/?$", api.url),
    re_path(rf"^files/{ID}/?$", api.file),
]

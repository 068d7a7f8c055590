"""Operations routes, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.operations import transfer_api as transfers
from basalt.operations.audit_api import AuditView

REF = r"projects/(?P<ref>[^/]+)"
EXPORT = r"(?P<export_id>[^/]+)"
IMPORT = r"(?P<import_id>[^/]+)"
CLONE = r"(?P<clone_id>[^/]+)"

urlpatterns = [
    re_path(rf"^{REF}/audit/?$", AuditView.as_view()),
    re_path(rf"^{REF}/exports/?$", transfers.ExportListView.as_view()),
    re_path(rf"^{REF}/exports/{EXPORT}/?$", transfers.ExportView.as_view()),
    re_path(rf"^{REF}/exports/{EXPORT}/archive/?$", transfers.ExportArchiveView.as_view()),
    re_path(rf"^{REF}/imports/?$", transfers.ImportListView.as_view()),
    re_path(rf"^{REF}/imports/{IMPORT}/?$", transfers.ImportView.as_view()),
    re_path(rf"^{REF}/clone/?$", transfers.CloneView.as_view()),
    re_path(rf"^{REF}/clone/{CLONE}/?$", transfers.CloneStatusView.as_view()),
]

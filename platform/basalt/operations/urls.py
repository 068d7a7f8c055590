"""Operations routes, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.operations import transfer_api as transfers
from basalt.operations.audit_api import AuditView

REF = r"projects/(?P<ref>[^/]+)"
TR = r"(?P<transfer_id>[^/]+)"

urlpatterns = [
    re_path(rf"^{REF}/audit/?$", AuditView.as_view()),
    re_path(rf"^{REF}/exports/?$", transfers.ExportListView.as_view()),
    re_path(rf"^{REF}/exports/{TR}/?$", transfers.ExportView.as_view()),
    re_path(rf"^{REF}/exports/{TR}/archive/?$", transfers.ExportArchiveView.as_view()),
    re_path(rf"^{REF}/imports/?$", transfers.ImportListView.as_view()),
    re_path(rf"^{REF}/imports/{TR}/?$", transfers.ImportView.as_view()),
    re_path(rf"^{REF}/clone/?$", transfers.CloneView.as_view()),
    re_path(rf"^{REF}/clone/{TR}/?$", transfers.CloneStatusView.as_view()),
]

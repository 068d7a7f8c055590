"""Operations routes, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.operations.audit_api import AuditView

urlpatterns = [
    re_path(r"^projects/(?P<ref>[^/]+)/audit/?$", AuditView.as_view()),
]

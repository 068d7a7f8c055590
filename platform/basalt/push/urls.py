"""Public data-API routes of the push area, mounted under /api/v1/ by basalt.urls."""

from django.urls import re_path

from basalt.push.api import views

_SEG = r"[^/]{1,200}"

urlpatterns = [
    re_path(r"^installations/?$", views.InstallationsView.as_view()),
    re_path(rf"^installations/(?P<installation_id>{_SEG})/?$", views.InstallationView.as_view()),
    re_path(r"^push/?$", views.PushesView.as_view()),
    re_path(r"^push/vapid-public-key/?$", views.VapidPublicKeyView.as_view()),
    re_path(r"^push/audience/?$", views.AudienceCountView.as_view()),
    re_path(rf"^push/(?P<push_id>{_SEG})/?$", views.PushView.as_view()),
]

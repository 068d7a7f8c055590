"""Usage routes, mounted under /api/v1/manage/ by basalt.urls."""

from django.urls import re_path

from basalt.usage import views

urlpatterns = [
    re_path(r"^projects/(?P<ref>[^/]+)/usage/?$", views.UsageView.as_view()),
]

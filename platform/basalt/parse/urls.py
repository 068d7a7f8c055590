"""The Parse face, mounted at /parse/ by basalt.urls (one entry; the face routes inside)."""

from django.urls import re_path

from basalt.parse.views import entry

urlpatterns = [re_path(r"^(?P<path>.*)$", entry)]

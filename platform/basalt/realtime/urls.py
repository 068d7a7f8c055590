"""Realtime's HTTP routes (SSE), mounted under /api/v1/ by basalt.urls; WebSockets are in routing.py."""

from django.urls import re_path

from basalt.realtime import sse

urlpatterns = [
    re_path(r"^realtime/sse/?$", sse.stream),
    re_path(r"^realtime/sse/(?P<connection_id>[a-z0-9]{1,64})/?$", sse.send),
]

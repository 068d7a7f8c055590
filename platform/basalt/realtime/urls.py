"""Realtime's HTTP routes (SSE), mounted under /api/v1/ by basalt.urls; WebSockets are in routing.py."""

from django.urls import re_path

from basalt.realtime import console_stream, sse

urlpatterns = [
    re_path(r"^realtime/sse/?$", sse.stream),
    re_path(r"^realtime/sse/(?P<connection_id>[a-z0-9]{1,64})/?$", sse.send),
    re_path(r"^realtime/console/(?P<ref>[a-z0-9]{1,32})/(?P<collection>[A-Za-z0-9_]{1,63})/?$", console_stream.stream),
]

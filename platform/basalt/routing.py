"""WebSocket routes; the realtime area contributes its consumer here."""

from django.urls import re_path

from basalt.parse.livequery import ParseLiveQueryConsumer
from basalt.realtime.routing import websocket_urlpatterns as realtime_routes

# Parse LiveQuery clients connect to the Parse mount itself (ws://host/parse).
websocket_urlpatterns: list = [*realtime_routes, re_path(r"^parse/?$", ParseLiveQueryConsumer.as_asgi())]

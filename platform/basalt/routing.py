"""WebSocket routes and async HTTP views; the realtime and parse areas contribute theirs here."""

from django.urls import re_path

from basalt.parse.livequery import ParseLiveQueryConsumer
from basalt.realtime.routing import async_http_prefixes as realtime_prefixes
from basalt.realtime.routing import websocket_urlpatterns as realtime_routes

# Parse LiveQuery clients connect to the Parse mount itself (ws://host/parse).
websocket_urlpatterns: list = [*realtime_routes, re_path(r"^parse/?$", ParseLiveQueryConsumer.as_asgi())]

# HTTP paths served by async views: Django's ASGI handler takes them; every other path (all
# synchronous views) goes through the one-hop WSGI bridge.
async_http_prefixes: tuple[str, ...] = (*realtime_prefixes,)

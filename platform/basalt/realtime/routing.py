"""The realtime WebSocket route (the SSE routes are plain HTTP views in urls.py)."""

from django.urls import re_path

from basalt.realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [re_path(r"^api/v1/realtime/?$", RealtimeConsumer.as_asgi())]

# The SSE and console-stream views are async (they wait on the hub in the event loop): HTTP under
# this prefix goes through Django's ASGI handler, not the WSGI bridge (basalt.asgi). The proxy
# of the production compose file sends the same prefix to the realtime role.
async_http_prefixes = ["/api/v1/realtime"]

"""The realtime WebSocket route (the SSE routes are plain HTTP views in urls.py)."""

from django.urls import re_path

from basalt.realtime.consumers import RealtimeConsumer

websocket_urlpatterns = [re_path(r"^api/v1/realtime/?$", RealtimeConsumer.as_asgi())]

"""WebSocket routes; the realtime area contributes its consumer here."""

from basalt.realtime.routing import websocket_urlpatterns as realtime_routes

websocket_urlpatterns: list = [*realtime_routes]

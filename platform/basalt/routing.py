"""WebSocket routes and async HTTP views; the realtime area contributes its consumer and prefixes here."""

from basalt.realtime.routing import async_http_prefixes as realtime_prefixes
from basalt.realtime.routing import websocket_urlpatterns as realtime_routes

websocket_urlpatterns: list = [*realtime_routes]

# HTTP paths served by async views: Django's ASGI handler takes them; every other path (all
# synchronous views) goes through the one-hop WSGI bridge.
async_http_prefixes: tuple[str, ...] = (*realtime_prefixes,)

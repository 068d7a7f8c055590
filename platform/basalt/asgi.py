"""ASGI entry point: HTTP through Django, WebSockets through Channels (routes added by realtime)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

import django  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from basalt.env import ConfigurationError  # noqa: E402

try:
    django.setup(set_prefix=False)
except ConfigurationError as exc:
    # One clear line for the operator instead of a traceback from every server worker.
    sys.stderr.write(f"basalt: configuration error: {exc}\n")
    raise SystemExit(2) from None

from django.conf import settings  # noqa: E402

from basalt.core.handler import BoundedASGIHandler  # noqa: E402
from basalt.core.wsgi_bridge import ThreadedWSGIBridge  # noqa: E402
from basalt.routing import async_http_prefixes, websocket_urlpatterns  # noqa: E402

# Django's own get_asgi_application() would start one thread (and connection) per request.
django_asgi_app = BoundedASGIHandler(threads=settings.REQUEST_THREADS)
# Synchronous views (all but the realtime area's) in one thread hop, on the same threads.
wsgi_bridge = ThreadedWSGIBridge(django_asgi_app.idle_threads)


async def http_app(scope, receive, send):
    if scope["path"].startswith(async_http_prefixes):
        return await django_asgi_app(scope, receive, send)
    return await wsgi_bridge(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

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
from basalt.routing import websocket_urlpatterns  # noqa: E402

# Django's own get_asgi_application() would start one thread (and connection) per request.
django_asgi_app = BoundedASGIHandler(threads=settings.REQUEST_THREADS)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

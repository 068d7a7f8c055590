"""WSGI entry point for a plain-HTTP server in production (WebSockets stay on the ASGI app)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from basalt.env import ConfigurationError  # noqa: E402

try:
    application = get_wsgi_application()
except ConfigurationError as exc:
    # One clear line for the operator instead of a traceback from every server worker.
    sys.stderr.write(f"basalt: configuration error: {exc}\n")
    raise SystemExit(2) from None

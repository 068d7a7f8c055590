"""WSGI entry point for a plain-HTTP server in production (WebSockets stay on the ASGI app)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()

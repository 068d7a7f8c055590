"""WSGI entry point for gunicorn in production: API, console and static files (WebSockets stay on daphne)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402

from basalt.core.memory import limit_malloc_arenas  # noqa: E402
from basalt.env import ConfigurationError  # noqa: E402

limit_malloc_arenas()  # granian's request threads share two arenas (core/memory.py)

try:
    application = get_wsgi_application()
except ConfigurationError as exc:
    # One clear line for the operator instead of a traceback from every server worker.
    sys.stderr.write(f"basalt: configuration error: {exc}\n")
    raise SystemExit(2) from None


def _with_static_files(app):
    """Serve collected static files (console, browsable assets) from this process when they exist.

    The production image runs collectstatic at build time; WhiteNoise serves that folder with
    far-future caching and compression, so no separate file server is needed behind the proxy.
    """
    from django.conf import settings

    root = Path(settings.STATIC_ROOT)
    if not root.is_dir():
        return app
    from whitenoise import WhiteNoise

    return WhiteNoise(app, root=str(root), prefix=settings.STATIC_URL)


application = _with_static_files(application)

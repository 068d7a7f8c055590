"""The same two routes as raw_app.py through Django's handler: settings with no middleware, one
function view each, the ORM's connection and cursor. Measures Django's own per-request floor on
this machine (`bench/floor.py`); not a Basalt component.
"""

from __future__ import annotations

import json
import os
import secrets

import django
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.urls import path

DATABASE = os.environ["FLOOR_DB"]
if DATABASE.startswith("sqlite:"):
    database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE.removeprefix("sqlite:"),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; "
            "PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536;"
        },
    }
else:
    from urllib.parse import urlsplit

    url = urlsplit(DATABASE)
    database = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username,
        "HOST": url.hostname,
        "PORT": url.port,
        "OPTIONS": {"server_side_binding": True, "prepare_threshold": 0},
    }
database["CONN_MAX_AGE"] = None  # one connection per server thread, kept

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    SECRET_KEY="floor-bench-only",
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={"default": database},
    USE_TZ=True,
)
django.setup()


def document(request, identifier):
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM floor_doc WHERE id = %s", [identifier])
        row = cursor.fetchone()
    if row is None:
        return JsonResponse({"error": "not found"}, status=404)
    data = row[0] if isinstance(row[0], str) else json.dumps(row[0])
    return HttpResponse(data, content_type="application/json")


def create(request):
    if request.method != "POST":
        return JsonResponse({"error": "method"}, status=405)
    payload = json.loads(request.body)
    identifier = secrets.token_hex(8)
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO floor_doc (id, data) VALUES (%s, %s)", [identifier, json.dumps(payload)])
    return JsonResponse({"id": identifier}, status=201)


def healthz(request):
    return JsonResponse({"status": "ok"})


urlpatterns = [path("o/<str:identifier>", document), path("o", create), path("healthz", healthz)]

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings.configure)

application = get_wsgi_application()

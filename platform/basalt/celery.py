"""The Celery application; tasks live in each area's `tasks.py` and are found automatically."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

app = Celery("basalt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

from basalt.core.background import Heartbeat  # noqa: E402

# Every worker (in-process or `celery worker`) reports in, so /readyz can tell when none consumes tasks.
app.steps["worker"].add(Heartbeat)

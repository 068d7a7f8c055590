"""Basalt's routes plus one that queues background work after commit and answers at once."""

import threading

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.urls import path

from basalt.urls import urlpatterns as basalt_urlpatterns
from tests.foundation.background_site.tasks import always_fails, slow_marker


def queue_tasks(request):
    marker = str(settings.DATA_DIR / "task-done")
    with transaction.atomic():
        # A failing task first: the worker must survive it and still run the next one.
        transaction.on_commit(always_fails.delay)
        seconds = float(request.GET.get("seconds", "2"))
        transaction.on_commit(lambda: slow_marker.delay(marker, seconds))
    return JsonResponse({"queued": True, "thread": threading.current_thread().name})


urlpatterns = [path("test/queue-tasks", queue_tasks), *basalt_urlpatterns]

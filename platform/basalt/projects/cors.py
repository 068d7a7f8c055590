"""Apply each project's `cors_origins` to the data API; django-cors-headers asks this module per request.

An actual request is answered with Access-Control-Allow-Origin only when its origin is listed by
the project its API key names (or the project lists "*"). A preflight carries no API key
(browsers never send custom headers with it), so it is granted when some project on this server
lists the origin; the request that follows is still judged by its own project. The API uses no
cookies and never sends Access-Control-Allow-Credentials, so a preflight grants a page nothing a
script outside a browser could not do, and a server whose projects list no origins answers none.
"""

from __future__ import annotations

import re

from corsheaders.signals import check_request_enabled
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from basalt.projects.models import Project
from basalt.projects.project_settings import effective_settings

# The data API (settings.CORS_URLS_REGEX): all of /api/v1/ but the console's management API.
_DATA_API = re.compile(settings.CORS_URLS_REGEX)
ORIGIN_INDEX_KEY = "basalt:cors:origins"
ORIGIN_INDEX_SECONDS = 60


def project_allows(project: Project, origin: str) -> bool:
    listed = {value.lower() for value in effective_settings(project).get("cors_origins") or []}
    return "*" in listed or origin.lower() in listed


def listed_by_some_project(origin: str) -> bool:
    index = cache.get(ORIGIN_INDEX_KEY)
    if index is None:
        index = set()
        for stored in Project.objects.filter(settings__has_key="cors_origins").values_list("settings", flat=True):
            index.update(value.lower() for value in stored.get("cors_origins") or [] if isinstance(value, str))
        cache.set(ORIGIN_INDEX_KEY, index, ORIGIN_INDEX_SECONDS)
    return "*" in index or origin.lower() in index


@receiver(check_request_enabled)
def allow_listed_origin(sender, request: HttpRequest, **kwargs) -> bool:
    if not _DATA_API.match(request.path_info):
        return False
    origin = request.headers.get("origin")
    if not origin:
        return False
    caller = getattr(request, "caller", None)
    if caller is not None:
        return project_allows(caller.project, origin)
    if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
        return listed_by_some_project(origin)
    return False


@receiver(post_save, sender=Project)
@receiver(post_delete, sender=Project)
def forget_origin_index(sender, **kwargs) -> None:
    transaction.on_commit(lambda: cache.delete(ORIGIN_INDEX_KEY))

"""Realtime page: live connections, subscriptions per collection, channels with presence, a test client."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.realtime.overview import project_overview
from console.views.common import ProjectAccess, page, project_context, project_view


@project_view
def realtime(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    overview = project_overview(access.project.id)
    return page(request, "console/realtime/realtime.html", project_context(access, "realtime", overview=overview))

"""Usage page: requests per day, documents and storage per collection, drawn as SVG on the server."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.usage.services import project_usage
from console.usage_charts import usage_page
from console.views.common import ProjectAccess, page, project_context, project_view


@project_view
def usage(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    report = project_usage(request.user, access.project.ref, 30)
    return page(request, "console/usage/usage.html", project_context(access, "usage", **usage_page(report)))

"""Audit log page: newest first, filtered by action, actor and face."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.operations.audit_api import entry_out, list_entries
from console.views.common import ProjectAccess, page, project_context, project_view


@project_view
def audit(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    filters = {k: request.GET.get(k, "") for k in ("action", "actor", "via", "cursor")}
    result = list_entries(request.user, access.project.ref, {k: v for k, v in filters.items() if v})
    context = project_context(
        access,
        "audit",
        entries=[entry_out(e) for e in result["results"]],
        next_cursor=result["next_cursor"],
        filters=filters,
    )
    return page(request, "console/webhooks/audit.html", context)

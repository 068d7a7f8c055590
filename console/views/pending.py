"""Pages whose backing services have not landed yet: they say so instead of faking data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from console.views.common import ProjectAccess, page, project_context, project_view

_WHAT = {
    "schema": ("Schema", "Collections, fields, indexes and permissions", "basalt.documents schema services"),
    "data": ("Data", "Browse, filter and edit documents", "basalt.documents document services"),
    "users": ("Users & roles", "End-users of your app and their roles", "basalt.identity services"),
    "reference": ("API reference", "This project's own OpenAPI document", "the /api/v1/openapi.json generator"),
    "usage": ("Usage", "Requests, documents and storage over time", "a usage service"),
}


def pending(section: str):
    @project_view
    def view(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
        title, subtitle, needs = _WHAT[section]
        context = project_context(access, section, title=title, subtitle=subtitle, needs=needs)
        return page(request, "console/pending.html", context)

    view.__name__ = f"{section}_pending"
    return view

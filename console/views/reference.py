"""API reference: the project's own OpenAPI document, rendered by a vendored Swagger UI."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from basalt.core.json import dumps
from basalt.documents.cache import project_schemas
from basalt.documents.openapi import build_document
from basalt.projects.roles import Perm
from basalt.projects.services import access_project
from console.views.common import ProjectAccess, page, project_context, project_view


@project_view
def reference(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    return page(request, "console/reference/reference.html", project_context(access, "reference"))


@project_view
def reference_document(request: HttpRequest, access: ProjectAccess) -> HttpResponse:
    """The document as the secret key sees it (every field), like the console's own data views."""
    project = access_project(request.user, access.project.ref, Perm.VIEW)
    document = build_document(list(project_schemas(project).values()), title=f"{project.name} data API")
    # Absolute, so "Try it out" and the server picker show where the API really lives.
    document["servers"] = [{"url": request.build_absolute_uri("/").rstrip("/")}]
    return HttpResponse(dumps(with_collection_tags(document)), content_type="application/json")


def with_collection_tags(document: dict[str, Any]) -> dict[str, Any]:
    """Group operations by collection in the reference (a tag per collection; batch on its own)."""
    for path, item in document.get("paths", {}).items():
        parts = path.split("/")
        tag = parts[4] if len(parts) > 4 and parts[3] == "collections" else parts[-1]
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["tags"] = [tag]
    return document

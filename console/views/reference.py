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


AREAS = (
    ("/api/v1/collections/", "Documents"),
    ("/api/v1/auth", "Auth"),
    ("/api/v1/users", "Auth"),
    ("/api/v1/roles", "Roles"),
    ("/api/v1/files", "Files"),
    ("/api/v1/push", "Push"),
    ("/api/v1/installations", "Push"),
    ("/api/v1/realtime", "Realtime"),
    ("/api/v1/batch", "Batch"),
    ("/api/v1/schema", "Schema"),
)
SDK_CALLS = {
    ("get", "documents"): 'basalt.collection("{c}").find({{}}, order="-created_at", limit=20)',
    ("post", "documents"): 'basalt.collection("{c}").create({{...}})',
    ("post", "query"): 'basalt.collection("{c}").find({{"field": {{"$gte": 1}}}}, limit=20, count=True)',
    ("get", "doc"): 'basalt.collection("{c}").get("<id>")',
    ("patch", "doc"): 'basalt.collection("{c}").update("<id>", {{...}}, if_match=doc)',
    ("delete", "doc"): 'basalt.collection("{c}").delete("<id>")',
}


def _area(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/api/v1/collections/") and len(parts) > 4:
        return f"Documents · {parts[4]}"
    return next((name for prefix, name in AREAS if path.startswith(prefix)), parts[-1] or "Other")


def _python_sample(method: str, path: str) -> str:
    parts = path.split("/")
    if not path.startswith("/api/v1/collections/") or len(parts) < 6:
        return ""
    shape = "doc" if len(parts) == 7 and parts[5] == "documents" else parts[5]
    call = SDK_CALLS.get((method, shape))
    if not call:
        return ""
    return (
        "\n\n**Python SDK** (`pip install basalt-sdk`)\n\n```python\nfrom basalt_sdk import Client\n\n"
        f'with Client("<server>", "<key>") as basalt:\n    {call.format(c=parts[4])}\n```'
    )


def with_collection_tags(document: dict[str, Any]) -> dict[str, Any]:
    """Group operations by area (documents per collection, auth, roles, files, …) and add a Python
    SDK sample to each document operation (Swagger UI adds the curl one itself)."""
    tags: list[str] = []
    for path, item in document.get("paths", {}).items():
        tag = _area(path)
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                operation["tags"] = [tag]
                sample = _python_sample(method, path)
                if sample:
                    operation["description"] = (operation.get("description") or "") + sample
                if tag not in tags:
                    tags.append(tag)
    document["tags"] = [{"name": t} for t in sorted(tags, key=lambda t: (not t.startswith("Documents"), t))]
    return document

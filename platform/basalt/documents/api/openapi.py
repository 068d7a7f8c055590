"""GET /api/v1/openapi.json: the calling project's typed OpenAPI document."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.core.caller import Caller
from basalt.documents.api.base import endpoint, respond
from basalt.documents.cache import project_schemas
from basalt.documents.openapi import build_document


def _get(request: HttpRequest, caller: Caller) -> HttpResponse:
    schemas = list(project_schemas(caller.project).values())
    return respond(build_document(schemas, title=f"{caller.project.name} data API"))


project_document = endpoint(get=_get)

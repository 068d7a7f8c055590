"""GET /api/v1/openapi.json: the calling project's typed OpenAPI document."""

from __future__ import annotations

from dataclasses import replace

from django.http import HttpRequest, HttpResponse

from basalt.core.caller import Caller
from basalt.documents import access
from basalt.documents.api.base import endpoint, respond
from basalt.documents.cache import project_schemas
from basalt.documents.openapi import build_document
from basalt.documents.schema import OPERATIONS


def _get(request: HttpRequest, caller: Caller) -> HttpResponse:
    schemas = []
    for schema in project_schemas(caller.project).values():
        # A locked collection (no principal on any operation) is the secret key's alone: not advertised.
        if not caller.is_secret and not any(schema.collection.permissions.get(op) for op in OPERATIONS):
            continue
        # A field the caller may never read is not advertised either.
        hidden = access.hidden_fields(caller, schema.collection)
        if hidden:
            schema = replace(schema, fields={k: v for k, v in schema.fields.items() if k not in hidden})
        schemas.append(schema)
    return respond(build_document(schemas, title=f"{caller.project.name} data API"))


project_document = endpoint(get=_get)

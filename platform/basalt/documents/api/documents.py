"""Document faces (API.md §3): parse, call one service, render."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.core.caller import Caller
from basalt.documents import finding, services
from basalt.documents.api.base import endpoint, json_body, no_content, respond
from basalt.documents.api.params import query_from_params
from basalt.documents.render import etag, etag_matches

FIND_PARAMS = frozenset({"where", "order", "limit", "cursor", "fields", "expand", "count"})
GET_PARAMS = frozenset({"fields", "expand"})


def _list(request: HttpRequest, caller: Caller, name: str) -> HttpResponse:
    return respond(finding.find_documents(caller, name, query_from_params(request.GET, FIND_PARAMS)))


def _version_header(result: services.Result) -> dict[str, str]:
    """A receipt (the caller may not read the document) carries no version either."""
    return {} if result.version is None else {"ETag": etag(result.version)}


def _create(request: HttpRequest, caller: Caller, name: str) -> HttpResponse:
    result = services.create_document(caller, name, json_body(request))
    location = f"/api/v1/collections/{name}/documents/{result.body['id']}"
    return respond(result.body, 201, {"Location": location, **_version_header(result)})


def _get(request: HttpRequest, caller: Caller, name: str, doc_id: str) -> HttpResponse:
    options = query_from_params(request.GET, GET_PARAMS) if request.GET else {}
    result = services.get_document(
        caller,
        name,
        doc_id,
        fields=set(options["fields"]) if "fields" in options else None,
        expand=options.get("expand"),
    )
    tag = etag(result.version)
    if etag_matches(request.META.get("HTTP_IF_NONE_MATCH"), result.version):
        return no_content(304, {"ETag": tag})
    return respond(result.body, 200, {"ETag": tag})


def _patch(request: HttpRequest, caller: Caller, name: str, doc_id: str) -> HttpResponse:
    result = services.update_document(
        caller, name, doc_id, json_body(request), if_match=request.META.get("HTTP_IF_MATCH")
    )
    return respond(result.body, 200, _version_header(result))


def _delete(request: HttpRequest, caller: Caller, name: str, doc_id: str) -> HttpResponse:
    services.delete_document(caller, name, doc_id, if_match=request.META.get("HTTP_IF_MATCH"))
    return no_content()


def _query(request: HttpRequest, caller: Caller, name: str) -> HttpResponse:
    return respond(finding.find_documents(caller, name, json_body(request)))


documents = endpoint(get=_list, post=_create)
document = endpoint(get=_get, patch=_patch, delete=_delete)
query = endpoint(post=_query)

__all__ = ["documents", "document", "query"]

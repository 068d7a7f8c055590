"""A lean base for data-API views: plain Django + orjson, the Caller resolved before any handler."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from basalt.core.caller import Caller
from basalt.core.errors import MethodNotAllowed, UnsupportedMediaType
from basalt.core.json import dumps, loads_body
from basalt.projects.caller import resolve_caller

Handler = Callable[..., HttpResponse]


def endpoint(**handlers: Handler) -> Callable[..., HttpResponse]:
    """Build a view from method handlers `(request, caller, **url_kwargs)`; fails closed on the key.

    Errors are raised, never rendered here: ApiErrorMiddleware maps them to the JSON contract.
    DRF is skipped on purpose: documents are the hot path and need no serializer machinery.
    """
    table = {method.upper(): handler for method, handler in handlers.items()}
    allow = ", ".join(sorted(table))  # RFC 9110: a 405 names the methods that are allowed

    @csrf_exempt  # API-key authenticated, never cookie authenticated
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        handler = table.get(request.method or "")
        if handler is None:
            raise MethodNotAllowed(headers={"Allow": allow})
        return handler(request, resolve_caller(request), **kwargs)

    view.allowed_methods = frozenset(table)  # read by middleware that must not pre-empt the 405
    return view


def json_body(request: HttpRequest, caller: Caller | None = None) -> Any:
    content_type = request.META.get("CONTENT_TYPE", "")
    if content_type and "json" not in content_type.split(";")[0]:
        raise UnsupportedMediaType()
    return loads_body(request.body)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def no_content(status: int = 204, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response

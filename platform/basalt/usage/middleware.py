"""Count every data-API request against its project, after the view, without a database query."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from basalt.usage import counters

DATA_API_PREFIX = "/api/v1/"
# The Parse-compatible face is the same project traffic through another protocol.
DATA_PREFIXES = (DATA_API_PREFIX, "/parse/")
# Console accounts' management calls are not the project's traffic.
NOT_COUNTED_PREFIXES = ("/api/v1/manage/",)


class RequestCounterMiddleware:
    """Reads the Caller that `resolve_caller` left on the request; requests with no valid key are not counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        count_request(request)
        return response


def count_request(request: HttpRequest) -> None:
    caller = getattr(request, "caller", None)
    if caller is not None and request.path.startswith(DATA_PREFIXES):
        if not request.path.startswith(NOT_COUNTED_PREFIXES):
            counters.record(caller.project.id, "requests")

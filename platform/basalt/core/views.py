"""Catch-all answers that keep unknown API routes inside the JSON contract."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from basalt.core.errors import NotFound
from basalt.core.middleware import generic_error, json_error


# Exempt: a POST to an unknown route must be a 404, not a CSRF 403 (the API uses no cookies).
@csrf_exempt
def api_not_found(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Answer every unrouted /api/ path, whatever the method, with the JSON 404."""
    return json_error(NotFound("No such endpoint."))


api_not_found.allowed_methods = frozenset()  # serves nothing: middleware leaves its 404 alone


def server_error(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """Stand in for Django's HTML 500 page (usable as handler500)."""
    return json_error(generic_error(500, getattr(request, "request_id", "")))

"""Catch-all answers that keep unknown API routes inside the JSON contract."""

from basalt.core.errors import NotFound
from basalt.core.middleware import json_error


def api_not_found(request, *args, **kwargs):
    return json_error(NotFound("No such endpoint."))


def server_error(request, *args, **kwargs):
    from basalt.core.middleware import ApiErrorMiddleware

    return json_error(ApiErrorMiddleware._generic_for(500))

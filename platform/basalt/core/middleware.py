"""Give every response a request id and keep the API's error contract JSON-only."""

from __future__ import annotations

import io
import logging
import re

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from basalt.core.edge import new_request_id, url_too_long
from basalt.core.errors import (
    BasaltError,
    HeadersTooLarge,
    NotFound,
    PayloadTooLarge,
    UriTooLong,
    to_basalt_error,
)
from basalt.core.json import dumps
from basalt.core.request_body import read_chunked_to_end, sent_chunked, unframed_input

logger = logging.getLogger("basalt.request")

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
API_PREFIX = "/api/"
# Upload routes stream their bodies and check their own, larger limits.
STREAMED_BODY_PREFIXES = ("/api/v1/files",)
# Project archive uploads (basalt.operations) stream too, bounded by IMPORT_MAX_ARCHIVE_BYTES.
STREAMED_BODY_PATHS = re.compile(r"\A/api/v1/manage/projects/[^/]+/imports/?\Z")


def streamed_body(path: str) -> bool:
    return path.startswith(STREAMED_BODY_PREFIXES) or STREAMED_BODY_PATHS.match(path) is not None


def json_error(error: BasaltError, request: HttpRequest | None = None) -> HttpResponse:
    response = HttpResponse(dumps(error.payload()), status=error.status, content_type="application/json")
    for name, value in error.headers.items():
        response[name] = value
    return response


def generic_error(status: int, request_id: str = "") -> BasaltError:
    """The JSON error for a bare status that something other than a view produced."""
    if status == 404:
        return NotFound()
    error = BasaltError("The request could not be processed.", code="invalid_operation")
    error.status = status
    if status == 403:
        error.code = "permission_denied"
    elif status == 405:
        error.code = "method_not_allowed"
    elif status == 413:
        error.code = "payload_too_large"
    elif status == 414:
        return UriTooLong()
    elif status == 431:
        return HeadersTooLarge()
    elif status == 503:
        error.code = "unavailable"
        error.message = "The service is temporarily unavailable."
    elif status >= 500:
        error.code = "internal_error"
        error.message = "An unexpected error occurred. Quote the request id when reporting it."
        error.details = {"request_id": request_id}
    return error


class RequestIdMiddleware:
    """Echo a well-formed incoming X-Request-Id or mint one, so logs and clients can correlate."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        assign_request_id(request)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


def assign_request_id(request: HttpRequest) -> None:
    incoming = request.META.get("HTTP_X_REQUEST_ID", "")
    # fullmatch, not match: `$` would accept a trailing newline, which cannot go in a header.
    request.request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else new_request_id()


class UrlLengthMiddleware:
    """Refuse over-long URLs with the JSON 414 under every server (daphne refuses them earlier, alike)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if url_too_long(request.path, request.META.get("QUERY_STRING", "")):
            return json_error(UriTooLong())
        return self.get_response(request)


class ApiErrorMiddleware:
    """Under /api/, refuse oversized bodies early and turn every failure into the JSON contract."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if "\x00" in request.path:
            # No id or name contains NUL, and PostgreSQL cannot even be asked about one.
            return json_error(NotFound())
        if declared_body_too_large(request):
            return json_error(PayloadTooLarge())
        if not streamed_body(request.path) and sent_chunked(request.META) and self._chunked_body_too_large(request):
            # Before the middleware below (idempotency fingerprints the body); upload routes: process_view.
            return json_error(PayloadTooLarge())
        return json_only(request, self.get_response(request))

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        """A chunked body on an upload route: a view that streams bodies reads it to its end itself
        (core.request_body.streams_body, bounded by its own limits); any other reads it whole, as
        below. Here, not in __call__: which view runs decides it."""
        if not request.path.startswith(API_PREFIX) or not sent_chunked(request.META):
            return None
        if getattr(view, "streams_body", False):
            read_chunked_to_end(request)
            return None
        return json_error(PayloadTooLarge()) if self._chunked_body_too_large(request) else None

    @staticmethod
    def _chunked_body_too_large(request: HttpRequest) -> bool:
        """Read a body sent without Content-Length (chunked), bounded, and hand it on with a real
        length. Django and DRF read a body only up to CONTENT_LENGTH: without this, such a body
        parsed as empty and had no size check at all."""
        source = unframed_input(request)
        if source is None:
            return False  # a server that promises no end of the body: Django reads none of it
        limit = settings.BASALT_MAX_JSON_BODY
        body = b""
        # A server's input may return less than asked before the end.
        while len(body) <= limit and (more := source.read(limit + 1 - len(body))):
            body += more
        if len(body) > limit:
            return True
        request._stream = io.BytesIO(body)
        request._read_started = False
        request.META["CONTENT_LENGTH"] = str(len(body))
        return False

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not request.path.startswith(API_PREFIX):
            return None
        return api_error_response(request, exc)


def declared_body_too_large(request: HttpRequest) -> bool:
    if streamed_body(request.path):
        return False
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > settings.BASALT_MAX_JSON_BODY


def json_only(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Framework-made HTML pages (CSRF failure, stray 404s, DEBUG 500s) never reach API clients."""
    if response.status_code >= 400 and "json" not in response.get("Content-Type", ""):
        return json_error(generic_error(response.status_code, getattr(request, "request_id", "")))
    return response


def api_error_response(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The JSON contract's answer to anything an API view raised; unknown failures are logged, never shown."""
    error = to_basalt_error(exc)
    if error is not None:
        return json_error(error)
    request_id = getattr(request, "request_id", "")
    logger.exception("unhandled error request_id=%s path=%s", request_id, request.path)
    server_error = BasaltError(
        "An unexpected error occurred. Quote the request id when reporting it.",
        code="internal_error",
        details={"request_id": request_id},
    )
    server_error.status = 500
    return json_error(server_error)


# Routes whose callers prove who they are with an API key or a bearer token in a header, never a
# browser cookie: the public data API (not the console's management API, nor the console's live
# view of a collection) and the Parse face. Health probes and metrics carry no cookies either.
_KEY_AUTHENTICATED = re.compile(r"\A/(?:parse/|api/v1/(?!manage/|realtime/console/)|healthz\Z|readyz\Z|metrics\Z)")


def key_authenticated(path: str) -> bool:
    return _KEY_AUTHENTICATED.match(path) is not None


class BrowserOnlyMiddleware:
    """Run the browser's middleware (settings.BROWSER_MIDDLEWARE: sessions, CSRF, the signed-in
    account, messages) only where a browser's cookies mean something.

    On the key-authenticated routes nothing reads a session, a CSRF token or `request.user`, and
    CSRF has nothing to protect (no cookie authenticates there); yet those four layers cost about
    a quarter of a signed-in GET's server CPU (bench/README.md). Elsewhere they run exactly as if
    listed in MIDDLEWARE at this position, `process_view` hooks (CSRF's check) included."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        chain = get_response
        self._view_hooks = []
        for dotted in reversed(settings.BROWSER_MIDDLEWARE):
            middleware = import_string(dotted)(chain)
            if hasattr(middleware, "process_view"):
                self._view_hooks.insert(0, middleware.process_view)
            chain = convert_exception_to_response(middleware)
        self._browser_chain = chain

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if key_authenticated(request.path_info):
            return self.get_response(request)
        return self._browser_chain(request)

    def process_view(self, request: HttpRequest, view, args, kwargs) -> HttpResponse | None:
        if key_authenticated(request.path_info):
            return None
        for hook in self._view_hooks:
            response = hook(request, view, args, kwargs)
            if response is not None:
                return response
        return None

"""The data API's hot routes (documents, queries, batch; the Parse face) answered past the middleware chain.

The chain has 13 layers. On these routes most of them add a header or count a request, yet each
layer's wrapping cost a few microseconds: together a quarter of a signed-in get's server CPU
(bench/README.md). This middleware, first in MIDDLEWARE, answers these routes itself. It calls the
hooks those layers run for such a request, in the same order, as plain calls, then the view the
URLconf maps. Every check stays.

A request that some layer would treat specially takes the whole chain, which answers as before:
- an Idempotency-Key;
- a chunked, oversized or NUL-carrying request, or an over-long URL;
- a Host that is not allowed;
- a script prefix in front of the path.
A middleware list other than MIRRORED_MIDDLEWARE (an operator's own) turns this off altogether.
"""

from __future__ import annotations

import re
import time
from typing import Any

from corsheaders.middleware import CorsMiddleware
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.cache import patch_vary_headers

from basalt.core.edge import url_too_long
from basalt.core.middleware import (
    API_PREFIX,
    REQUEST_ID_HEADER,
    api_error_response,
    assign_request_id,
    declared_body_too_large,
    json_only,
)
from basalt.core.request_body import sent_chunked
from basalt.documents.api import batch, documents
from basalt.logs.buffer import log_request
from basalt.operations import idempotency
from basalt.operations.metrics import observe
from basalt.usage.middleware import count_request

# (path prefix, pattern, view): the same patterns and views as the URLconf (basalt.documents.urls
# under /api/v1/; faces add theirs with `register`). A test resolves each through the URLconf.
HOT_ROUTES: list[tuple[str, re.Pattern[str], Any]] = [
    ("/api/v1/", re.compile(r"/api/v1/collections/(?P<name>[^/]+)/documents/?\Z"), documents.documents),
    (
        "/api/v1/",
        re.compile(r"/api/v1/collections/(?P<name>[^/]+)/documents/(?P<doc_id>[^/]+)/?\Z"),
        documents.document,
    ),
    ("/api/v1/", re.compile(r"/api/v1/collections/(?P<name>[^/]+)/query/?\Z"), documents.query),
    ("/api/v1/", re.compile(r"/api/v1/batch/?\Z"), batch.batch),
]
_PREFIXES = ("/api/v1/",)


def register(prefix: str, pattern: str, view) -> None:
    """A face's own hot route (the Parse face's, from its AppConfig): `pattern` must send exactly
    the paths and arguments to `view` that the URLconf does."""
    global _PREFIXES
    if any(known.pattern == pattern and known_view is view for _, known, known_view in HOT_ROUTES):
        return
    HOT_ROUTES.append((prefix, re.compile(pattern), view))
    _PREFIXES = tuple(dict.fromkeys((*_PREFIXES, prefix)))


_CORS_ROUTES = re.compile(settings.CORS_URLS_REGEX)

# The layers after this one whose effect on a hot route _answer reproduces. A change to the
# chain needs a change here (a test compares this with settings.MIDDLEWARE).
MIRRORED_MIDDLEWARE = (
    "basalt.operations.metrics.MetricsMiddleware",  # observe()
    "basalt.core.middleware.RequestIdMiddleware",  # assign_request_id() and the header
    "basalt.logs.buffer.RequestLogMiddleware",  # log_request()
    "corsheaders.middleware.CorsMiddleware",  # check_preflight(), add_response_headers()
    "basalt.core.middleware.UrlLengthMiddleware",  # over-long URLs take the chain
    "basalt.core.middleware.ApiErrorMiddleware",  # json_only(), api_error_response(); odd bodies take the chain
    "basalt.usage.middleware.RequestCounterMiddleware",  # count_request()
    "basalt.operations.idempotency.IdempotencyMiddleware",  # requests it applies to take the chain
    "django.middleware.security.SecurityMiddleware",  # its two hooks
    "django.middleware.common.CommonMiddleware",  # its two hooks; a bad Host takes the chain
    "basalt.core.middleware.BrowserOnlyMiddleware",  # inert on key-authenticated routes
    "django.middleware.clickjacking.XFrameOptionsMiddleware",  # its response hook
    "basalt.operations.audit.AuditMiddleware",  # audits management and console writes only
)


def _route(path: str) -> tuple[Any, dict[str, str]] | None:
    if path.startswith(_PREFIXES):
        for prefix, pattern, view in HOT_ROUTES:
            match = pattern.match(path) if path.startswith(prefix) else None
            if match is not None:
                return view, match.groupdict()
    return None


class HotRoutesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._cors = CorsMiddleware(get_response)
        self._security = SecurityMiddleware(get_response)
        self._common = CommonMiddleware(get_response)
        self._xframe = XFrameOptionsMiddleware(get_response)
        after_this = list(settings.MIDDLEWARE)
        after_this = after_this[after_this.index(f"{__name__}.HotRoutesMiddleware") + 1 :]
        self._enabled = (
            settings.BASALT_HOT_ROUTES
            and tuple(after_this) == MIRRORED_MIDDLEWARE
            # CommonMiddleware's refusals by user agent and its www. redirects: only the chain has them.
            and not settings.DISALLOWED_USER_AGENTS
            and not settings.PREPEND_WWW
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._enabled:
            hot = self._hot_view(request)
            if hot is not None:
                return self._answer(request, *hot)
        return self.get_response(request)

    @staticmethod
    def _hot_view(request: HttpRequest) -> tuple[Any, dict[str, str]] | None:
        path = request.path_info
        route = _route(path) if request.path == path else None
        if route is None:
            return None
        meta = request.META
        if (
            "\x00" in path
            or idempotency.applies(request)
            or sent_chunked(meta)
            or declared_body_too_large(request)
            or url_too_long(path, meta.get("QUERY_STRING", ""))
        ):
            return None
        try:
            request.get_host()
        except DisallowedHost:
            return None
        return route

    def _answer(self, request: HttpRequest, view, kwargs: dict[str, str]) -> HttpResponse:
        """The chain's work for this request, outermost layer first on the way in, last on the way out."""
        started = time.perf_counter()
        assign_request_id(request)
        # Without an Origin, on a path CORS_URLS_REGEX enables, CORS only varies the answer on the
        # Origin; its own hooks build request.headers to find that out, a tenth of a get's edge work.
        cors = "HTTP_ORIGIN" in request.META or request.method == "OPTIONS" or not _CORS_ROUTES.match(request.path_info)
        response = self._cors.check_preflight(request) if cors else None
        if response is None:
            response = self._security.process_request(request)
            if response is None:
                # CommonMiddleware.process_request: the Host is checked in _hot_view; its other
                # refusals and redirects turn this middleware off (__init__).
                response = self._xframe.process_response(request, self._view(request, view, kwargs))
                response = self._common.process_response(request, response)
            response = self._security.process_response(request, response)
            count_request(request)
            if request.path.startswith(API_PREFIX):  # ApiErrorMiddleware's ground; the Parse face has its own
                response = json_only(request, response)
        if cors:
            self._cors.add_response_headers(request, response)
        else:
            patch_vary_headers(response, ("origin",))
        log_request(request, response, started)
        response[REQUEST_ID_HEADER] = request.request_id
        observe(request, response, started)
        return response

    @staticmethod
    def _view(request: HttpRequest, view, kwargs: dict[str, str]) -> HttpResponse:
        try:
            return view(request, **kwargs)
        except Exception as exc:
            if request.path.startswith(API_PREFIX):  # ApiErrorMiddleware.process_exception's answer
                return api_error_response(request, exc)
            return response_for_exception(request, exc)  # Django's, as around the chain's innermost layer

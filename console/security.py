"""Security headers for console pages: a strict CSP that the vendored assets satisfy."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse

# No inline script or style anywhere: console JS and CSS are static files; htmx is told not to
# inject its indicator <style>. `data:` images are the copy-button icons drawn in CSS.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def apply_headers(response: HttpResponse) -> HttpResponse:
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response["X-Frame-Options"] = "DENY"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    # Pages show keys and project data: never keep them in shared caches or the back/forward cache.
    response["Cache-Control"] = "no-store"
    return response


def secure_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a console view so every response it returns carries the console's security headers."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return apply_headers(view(request, *args, **kwargs))

    return wrapped

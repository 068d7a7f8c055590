"""Form-action addresses that a reload can never break: GET lands on the page holding the form.

htmx (hx-boost) pushes the address a form posted to into the address bar when the answer is a
rendered page (an error, a key shown once). Reloading it sends a GET, so every POST-only route
answers GET with a redirect to its page, and rendered answers tell htmx to show that page's
address instead (`HX-Push-Url`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import reverse


@dataclass(frozen=True)
class Landing:
    """The page that holds a form: a console route name, the URL parameters it takes, an anchor."""

    route: str
    params: tuple[str, ...] = ("ref",)
    anchor: str = ""

    def url(self, kwargs: dict[str, str]) -> str:
        path = reverse(f"console:{self.route}", kwargs={name: kwargs[name] for name in self.params})
        return path + (f"#{self.anchor}" if self.anchor else "")


def push_url(request: HttpRequest, response: HttpResponse, url: str) -> HttpResponse:
    """Make htmx show `url` in the address bar for a page rendered in answer to a POST."""
    if request.method == "POST" and request.headers.get("HX-Request") and not 300 <= response.status_code < 400:
        response["HX-Push-Url"] = url
    return response


def post_only(view: Callable[..., HttpResponse], landing: Landing) -> Callable[..., HttpResponse]:
    """A POST-only form action whose GET (a reload, a bookmark) lands on the form's page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        target = landing.url(kwargs)
        if request.method in ("GET", "HEAD"):
            return redirect(target)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return push_url(request, view(request, *args, **kwargs), target)

    return wrapped

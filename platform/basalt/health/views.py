"""Liveness and readiness endpoints for load balancers and orchestrators."""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from basalt.core.errors import MethodNotAllowed, Unavailable
from basalt.core.json import dumps
from basalt.core.middleware import json_error
from basalt.health.checks import readiness, warnings

RETRY_AFTER_SECONDS = 5


def _only_get(request: HttpRequest) -> HttpResponse | None:
    if request.method in ("GET", "HEAD"):
        return None
    response = json_error(MethodNotAllowed())
    response["Allow"] = "GET, HEAD"
    return response


# Probes take no cookies, so a POST gets the JSON 405 rather than an HTML CSRF page.
@csrf_exempt
def healthz(request: HttpRequest) -> HttpResponse:
    """Answer 200 while the process can serve requests at all, whatever its dependencies."""
    return _only_get(request) or HttpResponse(dumps({"status": "ok"}), content_type="application/json")


@csrf_exempt
def readyz(request: HttpRequest) -> HttpResponse:
    """Answer 200 only when the database, channel layer and broker answer; else 503 naming them."""
    refused = _only_get(request)
    if refused:
        return refused
    checks = readiness()
    down = sorted(name for name, ok in checks.items() if not ok)
    components = {name: ("ok" if ok else "down") for name, ok in checks.items()}
    if down:
        error = Unavailable(
            "Not ready: " + ", ".join(down) + " down.",
            details=components,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        return json_error(error)
    answer = {"status": "ready", "checks": components}
    if problems := warnings():
        answer["warnings"] = problems
    return HttpResponse(dumps(answer), content_type="application/json")

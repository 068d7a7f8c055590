"""Liveness and readiness endpoints for load balancers and orchestrators."""

from django.http import HttpResponse
from django.views.decorators.http import require_GET

from basalt.core.json import dumps
from basalt.health.checks import readiness


@require_GET
def healthz(request):
    return HttpResponse(dumps({"status": "ok"}), content_type="application/json")


@require_GET
def readyz(request):
    checks = readiness()
    down = sorted(name for name, ok in checks.items() if not ok)
    components = {name: ("ok" if ok else "down") for name, ok in checks.items()}
    if down:
        body = {
            "error": {
                "code": "unavailable",
                "message": "Not ready: " + ", ".join(down) + " down.",
                "details": components,
            }
        }
        response = HttpResponse(dumps(body), status=503, content_type="application/json")
        response["Retry-After"] = "5"
        return response
    return HttpResponse(dumps({"status": "ready", "checks": components}), content_type="application/json")

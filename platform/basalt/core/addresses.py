"""The client address a request came from, as far as the configured proxies can be trusted."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the configured number of trusted proxies saw (DRF's rule).

    With no trusted proxy, X-Forwarded-For is the client's own word and is ignored: throttles
    keyed on it could otherwise be reset by changing a header.
    """
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(proxies, len(hops))][:64]
    return remote[:64]

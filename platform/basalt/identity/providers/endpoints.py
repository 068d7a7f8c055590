"""The one seam that points provider libraries at their endpoints, and the bounded HTTP they use.

Production uses the providers' published URLs below; `IDENTITY_PROVIDER_ENDPOINTS` (a dict per
provider) overrides them, which is how tests point every library at loopback stand-ins.
Every request has a bounded timeout (`IDENTITY_PROVIDER_TIMEOUT`, default 5 s) and maps any
transport failure to `503 provider_unavailable`.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

from basalt.identity.providers import ProviderUnavailable

DEFAULTS: dict[str, dict[str, Any]] = {
    "google": {
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "issuers": ["https://accounts.google.com", "accounts.google.com"],
    },
    "apple": {"jwks_uri": "https://appleid.apple.com/auth/keys", "issuers": ["https://appleid.apple.com"]},
    "firebase": {
        "cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
    },
    "github": {
        "authorize_url": "https://github.com/login/oauth/authorize",
        "token_url": "https://github.com/login/oauth/access_token",
        "api_url": "https://api.github.com",
    },
}
MAX_DOCUMENT_BYTES = 256 * 1024


def endpoints(provider: str) -> dict[str, Any]:
    overrides = getattr(settings, "IDENTITY_PROVIDER_ENDPOINTS", {}).get(provider, {})
    return {**DEFAULTS.get(provider, {}), **overrides}


def timeout() -> float:
    return float(getattr(settings, "IDENTITY_PROVIDER_TIMEOUT", 5.0))


def check_public(url: str) -> None:
    """Refuse project-configured URLs that lead inside the network (SECURITY.md T11).

    Only generic OIDC takes URLs from project settings; the fixed providers' URLs come from the
    server's own settings. `IDENTITY_PROVIDER_ALLOW_PRIVATE_HOSTS` lets tests use loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ProviderUnavailable("The provider URL is not an http(s) URL.")
    if getattr(settings, "IDENTITY_PROVIDER_ALLOW_PRIVATE_HOSTS", False):
        return
    if parts.scheme != "https":
        raise ProviderUnavailable("The provider URL must use https.")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError:
        raise ProviderUnavailable("The provider's host name does not resolve.")
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        if not address.is_global:
            raise ProviderUnavailable("The provider's address is not a public one.")


def get_json(url: str, *, headers: dict[str, str] | None = None) -> Any:
    """GET a JSON document with the bounded timeout; no redirects; any failure is a 503."""
    try:
        with requests.get(url, headers=headers or {}, timeout=timeout(), allow_redirects=False, stream=True) as r:
            if r.status_code != 200:
                raise ProviderUnavailable(f"The provider answered HTTP {r.status_code}.")
            body = r.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ProviderUnavailable("The provider's document is too large.")
            return requests.models.complexjson.loads(body)
    except ProviderUnavailable:
        raise
    except (requests.RequestException, ValueError, OSError):
        raise ProviderUnavailable()


class _Bounded(OrderedDict):
    """A small LRU of per-URL objects (JWKS clients, discovery documents)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.lock = threading.Lock()

    def get_or_make(self, key: str, make):
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = make()
        with self.lock:
            self[key] = value
            while len(self) > self.size:
                self.popitem(last=False)
        return value


jwks_clients = _Bounded(64)
discovery_cache = _Bounded(64)

"""Resolve the Caller of a data-API request once: API key first, then an optional bearer token."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from basalt.core.caller import Caller
from basalt.core.errors import InvalidToken
from basalt.projects.keys import resolve_key

# Identity registers a resolver here that turns (key caller, bearer token) into a user caller;
# until one is registered, a bearer token cannot be honoured and is refused rather than ignored.
BearerResolver = Callable[[Caller, str], Caller]
_bearer_resolvers: list[BearerResolver] = []
# Opaque tokens of another face (the Parse face's `r:…` session tokens) name their own resolver by
# prefix; such a token goes to that resolver alone, so a realtime connection authenticated by one
# is re-checked like any other.
_prefixed_resolvers: dict[str, BearerResolver] = {}


def register_bearer_resolver(resolver: BearerResolver, prefix: str | None = None) -> None:
    if prefix is not None:
        _prefixed_resolvers[prefix] = resolver
    elif resolver not in _bearer_resolvers:
        _bearer_resolvers.append(resolver)


def bearer_token(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("The Authorization header must be 'Bearer <access_token>'.")
    return token.strip()


def _remember(request: HttpRequest, caller: Caller) -> None:
    # basalt.usage's middleware counts requests per project after the view, without a query;
    # DRF wraps the HttpRequest that middleware sees, so the attribute goes on the inner one.
    getattr(request, "_request", request).caller = caller


def resolve_caller(request: HttpRequest) -> Caller:
    # Resolved once per request: the idempotency middleware resolves it before the view (so that an
    # unauthenticated request gets the route's 401 first), and the view then reuses it.
    inner = getattr(request, "_request", request)
    resolved = getattr(inner, "_resolved_caller", None)
    if resolved is not None:
        return resolved
    caller = Caller.for_key(resolve_key(request.META.get("HTTP_X_API_KEY")))
    _remember(request, caller)
    token = bearer_token(request)
    if token is not None:
        caller = with_bearer(caller, token)
        _remember(request, caller)
    inner._resolved_caller = caller
    return caller


def with_bearer(caller: Caller, token: str) -> Caller:
    """The key's caller as the token's end-user (HTTP header or a realtime `auth` message alike)."""
    for prefix, resolver in _prefixed_resolvers.items():
        if token.startswith(prefix):
            return resolver(caller, token)
    if not _bearer_resolvers:
        raise InvalidToken()
    for resolver in _bearer_resolvers:
        caller = resolver(caller, token)
    return caller

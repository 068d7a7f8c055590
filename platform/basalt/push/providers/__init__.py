"""Push providers: one module per provider, registered by name (fcm, apns, webpush)."""

from __future__ import annotations

from basalt.push.providers.base import Outcome, Outgoing, Provider, ProviderAuthError

_registry: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    _registry[provider.name] = provider


def get(name: str) -> Provider:
    _load_builtin()
    return _registry[name]


def names() -> list[str]:
    _load_builtin()
    return list(_registry)


def replace(provider: Provider) -> Provider | None:
    """Swap a provider (tests put the in-memory twin in place); returns the one it replaced."""
    _load_builtin()
    previous = _registry.get(provider.name)
    _registry[provider.name] = provider
    return previous


_loaded = False


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    from basalt.push.providers import apns, fcm, webpush

    for module in (fcm, apns, webpush):
        if module.PROVIDER.name not in _registry:
            register(module.PROVIDER)


__all__ = ["Outcome", "Outgoing", "Provider", "ProviderAuthError", "get", "names", "register", "replace"]

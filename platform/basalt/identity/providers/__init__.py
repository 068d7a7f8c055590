"""Third-party sign-in providers: one module per provider registers an instance in `registry`.

`POST /api/v1/auth/providers/{name}` looks the provider up here; an unregistered name is
404. A provider verifies what the client sent (an OIDC id_token, an OAuth code) and returns a
`ProviderIdentity`; linking it to an EndUser and opening the session is the service's job, so
every provider gets the same rules (no linking to an existing account through an unverified
email).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from basalt.projects.models import Project


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    subject: str  # the provider's stable user id (`sub`)
    email: str | None
    email_verified: bool
    profile: dict[str, Any]


class AuthProvider:
    name: ClassVar[str]

    def verify(self, project: Project, config: dict[str, Any], body: dict[str, Any]) -> ProviderIdentity:
        """Check the client's proof against the provider and return who it names, or raise InvalidToken."""
        raise NotImplementedError

    def validate_config(self, config: Any) -> dict[str, Any]:
        """Check this provider's part of the project `auth.providers` settings."""
        raise NotImplementedError


class ProviderRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, AuthProvider] = {}

    def register(self, provider: AuthProvider) -> None:
        if provider.name in self._providers:
            raise ValueError(f"provider {provider.name!r} registered twice")
        self._providers[provider.name] = provider

    def get(self, name: str) -> AuthProvider | None:
        return self._providers.get(name)

    def names(self) -> list[str]:
        return sorted(self._providers)


registry = ProviderRegistry()

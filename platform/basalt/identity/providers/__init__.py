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

from basalt.core.errors import BasaltError
from basalt.projects.models import Project


class ProviderUnavailable(BasaltError):
    """The provider's endpoint (JWKS, token, user API) did not answer in time or answered garbage."""

    status = 503
    code = "provider_unavailable"
    default_message = "The sign-in provider could not be reached; retry shortly."

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"Retry-After": "5"})


class ProviderDisabled(BasaltError):
    status = 403
    code = "provider_disabled"
    default_message = "This sign-in provider is not enabled for the project."


class AccountExists(BasaltError):
    status = 409
    code = "account_exists"
    default_message = "An account with this email already exists: sign in to it and link this provider from there."


@dataclass(frozen=True)
class ProviderIdentity:
    provider: str
    subject: str  # the provider's stable user id (`sub`)
    email: str | None
    email_verified: bool
    profile: dict[str, Any]


class AuthProvider:
    name: ClassVar[str]
    # "id_token": the client sends {id_token, nonce?}; "code": {code, code_verifier, redirect_uri}.
    kinds: ClassVar[tuple[str, ...]] = ("id_token",)

    def verify(self, project: Project, config: dict[str, Any], body: dict[str, Any]) -> ProviderIdentity:
        """Check the client's proof against the provider and return who it names, or raise InvalidToken."""
        raise NotImplementedError

    def authorize_url(
        self,
        project: Project,
        config: dict[str, Any],
        *,
        redirect_uri: str,
        state: str,
        code_challenge: str,
        nonce: str,
    ) -> str:
        """Where a browser goes to sign in (code providers only)."""
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

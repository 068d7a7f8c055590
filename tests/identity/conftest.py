"""Fixtures for identity tests: sign-up helpers and user clients."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from .provider_fixtures import providers, standin  # noqa: F401  (the loopback sign-in provider)

PASSWORD = "Tr0ub4dor&3-horse"


@pytest.fixture(autouse=True)
def _fast_email_floor(settings):
    """Keep the anti-enumeration floor small except in the timing tests, which set their own."""
    settings.IDENTITY_EMAIL_REQUEST_MIN_SECONDS = 0.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


def bearer_client(key: str, access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key, HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


class SignedIn:
    """A signed-up end-user: its id, tokens and a client that sends both key and token."""

    def __init__(self, key: str, body: dict, email: str | None, password: str | None):
        self.key = key
        self.body = body
        self.id = body["user"]["id"]
        self.access = body["access_token"]
        self.refresh = body["refresh_token"]
        self.email = email
        self.password = password
        self.client = bearer_client(key, self.access)


_n = iter(range(1, 10**9))


@pytest.fixture
def signup(project):
    """Sign a new user up in `project` (or the given key's project) and return a SignedIn."""

    def make(email: str | None = None, password: str = PASSWORD, key: str | None = None, **extra) -> SignedIn:
        key = key or project.publishable
        email = email or f"user{next(_n)}@example.com"
        response = key_client(key).post(
            "/api/v1/auth/signup", {"email": email, "password": password, **extra}, format="json"
        )
        assert response.status_code == 201, response.content
        return SignedIn(key, response.json(), email, password)

    return make


@pytest.fixture
def user(signup) -> SignedIn:
    return signup()


# What a developer grants so users set their own profile fields: at sign-up (`create`) and on
# their own document afterwards (`update`, the document ACL limits it to the owner).
PROFILE_PERMISSIONS = {
    "get": ["authenticated"],
    "find": ["authenticated"],
    "count": ["authenticated"],
    "create": ["*"],
    "update": ["authenticated"],
}


def declare_user_fields(project, fields: dict, **changes) -> None:
    """Declare custom fields on the project's built-in `users` collection (as a developer would)."""
    from basalt.documents import catalog
    from basalt.identity.builtin import users_collection

    users_collection(project)
    catalog.update_collection(project, "users", {"fields": fields, **changes})


@pytest.fixture
def profile_fields(project):
    declare_user_fields(
        project.project,
        {
            "nickname": {"type": "string", "max_length": 40},
            "score": {"type": "number"},
            "bio": {"type": "string"},
            "age": {"type": "number"},
            "meta": {"type": "object"},
            "blob": {"type": "string"},
        },
        permissions=PROFILE_PERMISSIONS,
    )

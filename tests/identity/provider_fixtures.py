"""Fixtures that point the product's provider libraries at the loopback stand-in."""

from __future__ import annotations

import os

import pytest

from .provider_standin import Standin

GOOGLE_CLIENT = "web-123.apps.googleusercontent.com"
APPLE_CLIENT = "com.example.notes"
OIDC_CLIENT = "basalt-oidc-client"
GITHUB_CLIENT = "Iv1.gh-client"
REDIRECT = "https://app.example.com/after-sign-in"


@pytest.fixture(scope="module")
def standin():
    os.environ.setdefault("NO_GCE_CHECK", "True")  # google-auth must never probe a metadata server
    server = Standin()
    yield server
    server.close()


@pytest.fixture
def providers(standin, settings, project):
    """Every provider enabled for `project`, its libraries pointed at the stand-in."""
    from basalt.identity.providers.endpoints import discovery_cache, jwks_clients
    from basalt.projects.project_settings import update_settings

    settings.IDENTITY_PROVIDER_ENDPOINTS = standin.endpoints()
    settings.IDENTITY_PROVIDER_ALLOW_PRIVATE_HOSTS = True
    settings.IDENTITY_PROVIDER_TIMEOUT = 2.0
    jwks_clients.clear()
    discovery_cache.clear()
    standin.delay = 0.0
    update_settings(
        project.project,
        {
            "auth": {
                "providers": {
                    "google": {"enabled": True, "client_ids": [GOOGLE_CLIENT]},
                    "apple": {"enabled": True, "client_ids": [APPLE_CLIENT]},
                    "firebase": {"enabled": True, "project_id": standin.firebase_project},
                    "oidc": {
                        "enabled": True,
                        "issuer": standin.oidc_issuer,
                        "client_ids": [OIDC_CLIENT],
                        "client_secret": Standin.CLIENT_SECRET,
                    },
                    "github": {"enabled": True, "client_ids": [GITHUB_CLIENT], "client_secret": Standin.CLIENT_SECRET},
                },
                "redirect_urls": [REDIRECT],
            }
        },
    )
    project.project.refresh_from_db()
    yield standin
    jwks_clients.clear()
    discovery_cache.clear()


def google_token(standin, sub="g-1", email="ann@example.com", verified=True, **extra) -> str:
    claims = standin.claims("https://accounts.google.com", GOOGLE_CLIENT, sub=sub, email=email, email_verified=verified)
    return standin.mint({**claims, **extra})


def firebase_token(standin, sub="fb-1", email="fb@example.com", verified=True, **extra) -> str:
    pid = standin.firebase_project
    claims = standin.claims(f"https://securetoken.google.com/{pid}", pid, sub=sub, email=email, email_verified=verified)
    claims["auth_time"] = claims["iat"]
    return standin.mint({**claims, **extra})

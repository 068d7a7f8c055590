"""Settings → Sign-in providers: admins configure providers; secrets are write-only."""

from __future__ import annotations

import re

import pytest

from basalt.identity.auth_settings import auth_settings
from basalt.projects.models import Project

pytestmark = pytest.mark.django_db

VALID = {
    "google_enabled": "on",
    "google_client_ids": "web.apps.googleusercontent.com\nios.apps.googleusercontent.com",
    "github_enabled": "on",
    "github_client_ids": "Iv1.abc",
    "github_client_secret": "gh-very-secret-value",
    "oidc_issuer": "https://id.example.com",
    "firebase_project_id": "my-firebase-app",
    "redirect_urls": "https://app.example.com/signed-in",
    "link_by_verified_email": "on",
    "passkey_rp_id": "example.com",
    "passkey_origins": "https://app.example.com",
}


def _url(project) -> str:
    return f"/console/p/{project.project.ref}/settings/providers"


def test_owner_configures_providers_and_the_secret_never_comes_back(project, owner_client):
    response = owner_client.post(_url(project), VALID)
    assert response.status_code == 302, response.content[:800]
    current = auth_settings(Project.objects.get(pk=project.project.pk))
    assert current.providers["google"]["enabled"] is True
    assert current.providers["google"]["client_ids"] == [
        "web.apps.googleusercontent.com",
        "ios.apps.googleusercontent.com",
    ]
    assert "client_secret_encrypted" in current.providers["github"]
    assert current.redirect_urls == ("https://app.example.com/signed-in",)
    assert current.link_by_verified_email is True and current.require_mfa is False
    page = owner_client.get(f"/console/p/{project.project.ref}/settings").content.decode()
    assert "gh-very-secret-value" not in page and "client_secret_encrypted" not in page
    assert "set (leave blank to keep)" in page
    assert re.search(r'name="google_enabled"[^>]*checked', page)
    # Saving again with the secret left blank keeps it.
    again = {**VALID, "github_client_secret": "", "google_client_ids": "web.apps.googleusercontent.com"}
    assert owner_client.post(_url(project), again).status_code == 302
    current = auth_settings(Project.objects.get(pk=project.project.pk))
    assert "client_secret_encrypted" in current.providers["github"]
    assert current.providers["google"]["client_ids"] == ["web.apps.googleusercontent.com"]


def test_bad_provider_values_show_next_to_their_inputs(project, owner_client):
    response = owner_client.post(_url(project), {**VALID, "redirect_urls": "not a url", "oidc_issuer": "ftp://x"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_redirect_urls-errors"' in html and 'id="id_oidc_issuer-errors"' in html
    assert "gh-very-secret-value" not in html
    assert auth_settings(Project.objects.get(pk=project.project.pk)).providers == {}


def test_viewer_cannot_change_providers(project, member_client):
    viewer = member_client("viewer")
    response = viewer.post(_url(project), VALID)
    assert response.status_code in (403, 302)
    assert auth_settings(Project.objects.get(pk=project.project.pk)).providers == {}

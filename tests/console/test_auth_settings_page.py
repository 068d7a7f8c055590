"""Settings → Auth & tokens: admins edit the identity `auth` section, viewers only read it."""

from __future__ import annotations

import re

import pytest

from basalt.identity.auth_settings import auth_settings
from basalt.projects.models import Project

pytestmark = pytest.mark.django_db

VALID = {
    "password_min_length": "12",
    "password_require_classes": ["upper", "digit"],
    "password_reject_common": "on",
    "access_token_ttl": "600",
    "refresh_token_ttl": "86400",
    "require_verified_email_for_login": "on",
    # anonymous_enabled left unchecked: a checkbox the form omits means False
    "sign_up_enabled": "on",
    "verify_url": "https://app.example.com/verify?t={token}",
    "reset_url": "",
}


def auth_url(project) -> str:
    return f"/console/p/{project.project.ref}/settings/auth"


def stored_auth(project) -> dict:
    return (Project.objects.get(pk=project.project.pk).settings or {}).get("auth") or {}


def field_errors(html: str, field: str) -> str:
    """The error list rendered right after the named input (empty when there is none)."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}-errors"[^>]*>(.*?)</ul>', html, re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_admin_and_owner_save_auth_settings(project, member_client, owner_client, role):
    client = owner_client if role == "owner" else member_client(role)
    response = client.post(auth_url(project), VALID)
    assert response.status_code == 302, response.content[:500]
    current = auth_settings(Project.objects.get(pk=project.project.pk))
    assert current.min_length == 12
    assert current.require_classes == ("upper", "digit")
    assert current.access_token_ttl == 600 and current.refresh_token_ttl == 86400
    assert current.require_verified_email_for_login is True
    assert current.anonymous_enabled is False
    assert current.verify_url == "https://app.example.com/verify?t={token}"
    page = client.get(f"/console/p/{project.project.ref}/settings").content.decode()
    assert 'name="access_token_ttl" value="600"' in page
    assert "Save auth settings" in page


def test_settings_page_shows_defaults_before_any_change(owner_client, project):
    page = owner_client.get(f"/console/p/{project.project.ref}/settings").content.decode()
    assert 'name="password_min_length" value="8"' in page
    assert 'name="access_token_ttl" value="900"' in page
    assert 'id="id_anonymous_enabled" checked' in page


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("password_min_length", "3", "from 6 to 128"),
        ("access_token_ttl", "5", "seconds from 60"),
        ("refresh_token_ttl", "999999999", "seconds from 3600"),
        ("verify_url", "javascript:alert(1)", "absolute URL"),
        ("access_token_ttl", "ten minutes", "whole number"),
        ("password_require_classes", ["emoji"], "valid choice"),
    ],
)
def test_invalid_values_are_refused_next_to_the_field_and_nothing_is_saved(owner_client, project, field, value, words):
    owner_client.post(auth_url(project), VALID)
    before = stored_auth(project)
    body = {**VALID, field: value, "password_min_length": "20" if field != "password_min_length" else value}
    response = owner_client.post(auth_url(project), body)
    assert response.status_code == 400
    html = response.content.decode()
    assert words in field_errors(html, field), field_errors(html, field) or html[:2000]
    # The valid change to another field in the same submission was not stored either.
    assert stored_auth(project) == before


def test_viewer_reads_but_cannot_edit(member_client, project):
    viewer = member_client("viewer")
    page = viewer.get(f"/console/p/{project.project.ref}/settings").content.decode()
    assert 'name="access_token_ttl" value="900"' in page
    assert re.search(r'name="access_token_ttl"[^>]*disabled', page)
    assert "Save auth settings" not in page
    response = viewer.post(auth_url(project), VALID)
    assert response.status_code == 403
    assert stored_auth(project) == {}


def test_developer_is_refused_on_the_server(member_client, project):
    response = member_client("developer").post(auth_url(project), VALID)
    assert response.status_code == 403
    assert stored_auth(project) == {}


def test_other_accounts_project_is_not_found(browser_for, project):
    response = browser_for().post(auth_url(project), VALID)
    assert response.status_code == 404
    assert stored_auth(project) == {}


def test_session_cap_is_edited_in_auth_settings(owner_client, project):
    page = owner_client.get(f"/console/p/{project.project.ref}/settings").content.decode()
    assert 'name="max_sessions_per_user" value="10"' in page
    response = owner_client.post(auth_url(project), {**VALID, "max_sessions_per_user": "3"})
    assert response.status_code == 302, response.content[:500]
    assert auth_settings(Project.objects.get(pk=project.project.pk)).max_sessions_per_user == 3
    refused = owner_client.post(auth_url(project), {**VALID, "max_sessions_per_user": "0"})
    assert refused.status_code == 400
    assert auth_settings(Project.objects.get(pk=project.project.pk)).max_sessions_per_user == 3


def test_get_lands_on_the_settings_page_and_changes_nothing(owner_client, project):
    before = dict(project.project.settings or {})
    response = owner_client.get(auth_url(project))
    assert response.status_code == 302 and response["Location"].endswith("/settings#auth")
    project.project.refresh_from_db()
    assert (project.project.settings or {}) == before

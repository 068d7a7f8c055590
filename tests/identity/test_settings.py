"""The `auth` section of project settings through the management API."""

from __future__ import annotations

from .conftest import key_client


def _settings_url(project) -> str:
    return f"/api/v1/manage/projects/{project.project.ref}/settings"


def test_owner_sets_auth_policy_and_it_applies(project):
    from tests.conftest import console_client_for

    console = console_client_for(project.owner)
    response = console.patch(
        _settings_url(project),
        {"auth": {"password_min_length": 12, "access_token_ttl": 120}},
        format="json",
    )
    assert response.status_code == 200, response.content
    # A later partial change keeps the earlier keys of the section.
    console.patch(_settings_url(project), {"auth": {"password_require_classes": ["digit"]}}, format="json")
    client = key_client(project.publishable)
    short = client.post("/api/v1/auth/signup", {"email": "a@example.com", "password": "qzvkwpxmrt"}, format="json")
    assert short.status_code == 400
    assert len(short.json()["error"]["details"]["password"]) == 2
    ok = client.post("/api/v1/auth/signup", {"email": "a@example.com", "password": "qzvkwpxmrtq7"}, format="json")
    assert ok.status_code == 201
    assert ok.json()["expires_in"] == 120


def test_bad_auth_settings_are_refused(project):
    from tests.conftest import console_client_for

    console = console_client_for(project.owner)
    for bad in (
        {"auth": "yes"},
        {"auth": {"access_token_ttl": 5}},
        {"auth": {"access_token_ttl": True}},
        {"auth": {"password_min_length": 2}},
        {"auth": {"password_require_classes": ["emoji"]}},
        {"auth": {"password_reject_common": "no"}},
        {"auth": {"password": {"min_length": 12}}},
        {"auth": {"nope": 1}},
        {"auth": {"email_templates": {"reset": {"subject": "a\nBcc: x@y"}}}},
        {"auth": {"email_templates": {"welcome": {"subject": "hi"}}}},
        {"auth": {"reset_url": "javascript alert(1)"}},
        # PostgreSQL cannot store NUL: a 400 without details there, stored by SQLite.
        {"auth": {"email_templates": {"reset": {"body": "a\x00b"}}}},
    ):
        response = console.patch(_settings_url(project), bad, format="json")
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "validation_failed"
        assert response.json()["error"]["details"], bad


def test_sign_up_can_be_closed(project):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"auth": {"sign_up_enabled": False}})
    response = key_client(project.publishable).post(
        "/api/v1/auth/signup", {"email": "a@example.com", "password": "Tr0ub4dor&3-horse"}, format="json"
    )
    assert response.status_code == 403

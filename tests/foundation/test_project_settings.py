"""Project settings through the management API: validation, atomic PATCH, limits, redaction."""

from __future__ import annotations

import pytest

from tests.conftest import console_client_for
from tests.foundation.conftest import assert_error, snapshot

pytestmark = pytest.mark.django_db


def url(project) -> str:
    return f"/api/v1/manage/projects/{project.project.ref}/settings"


def test_defaults_are_shown_and_changes_merge(project):
    owner = console_client_for(project.owner)
    shown = owner.get(url(project)).json()
    assert shown["limits"]["max_json_body"] == 1024 * 1024 and shown["cors_origins"] == []
    changed = owner.patch(url(project), {"limits": {"max_page_size": 50}}, format="json")
    assert changed.status_code == 200
    assert changed.json()["limits"]["max_page_size"] == 50
    assert changed.json()["limits"]["max_where_depth"] == 10  # untouched limits keep their defaults


@pytest.mark.parametrize(
    "body",
    [
        {"limits": {"max_page_size": 0}},
        {"limits": {"max_page_size": 1001}},
        {"limits": {"max_page_size": "50"}},
        {"limits": {"max_page_size": True}},
        {"limits": {"made_up": 1}},
        {"limits": []},
        {"limits": {"max_json_body": 16 * 1024 * 1024}},  # above what the server itself accepts
        {"cors_origins": "https://a.example"},
        {"cors_origins": ["javascript:alert(1)"]},
        {"cors_origins": ["https://a.example/path"]},
        {"cors_origins": [1]},
        {"unknown_section": {}},
        [],
    ],
)
def test_invalid_settings_change_nothing(project, body):
    before = snapshot()
    assert_error(console_client_for(project.owner).patch(url(project), body, format="json"), 400, "validation_failed")
    assert snapshot() == before


def test_project_patch_is_all_or_nothing(project):
    """A valid rename with an invalid settings change renames nothing."""
    owner = console_client_for(project.owner)
    response = owner.patch(
        f"/api/v1/manage/projects/{project.project.ref}",
        {"name": "Renamed", "settings": {"limits": {"max_page_size": -1}}},
        format="json",
    )
    assert_error(response, 400, "validation_failed")
    project.project.refresh_from_db()
    assert project.project.name == "Demo"
    response = owner.patch(
        f"/api/v1/manage/projects/{project.project.ref}", {"name": "Renamed", "ref": "x"}, format="json"
    )
    assert_error(response, 400, "validation_failed")
    project.project.refresh_from_db()
    assert project.project.name == "Demo"


def test_credential_sections_are_redacted_in_answers_but_kept(project, monkeypatch):
    from basalt.projects import project_settings

    monkeypatch.setitem(project_settings.SECTION_VALIDATORS, "vault", lambda value: value)
    monkeypatch.setitem(project_settings.SECTION_REDACTORS, "vault", lambda value: {"configured": bool(value)})
    owner = console_client_for(project.owner)
    changed = owner.patch(url(project), {"vault": {"private_key": "-----BEGIN PRIVATE KEY-----abc"}}, format="json")
    assert changed.status_code == 200
    assert changed.json()["vault"] == {"configured": True}
    assert "PRIVATE KEY" not in owner.get(url(project)).content.decode()
    project.project.refresh_from_db()
    assert project_settings.effective_settings(project.project)["vault"]["private_key"].endswith("abc")

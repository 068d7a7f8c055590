"""Audit log: management-API and console writes recorded with actor, action, target, redacted summary, address."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import console_client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(project):
    client = console_client_for(project.owner)
    client.base = f"/api/v1/manage/projects/{project.project.ref}"
    return client


def entries(client, **params) -> list[dict]:
    response = client.get(client.base + "/audit", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_management_writes_are_recorded_without_secrets(owner, project):
    created = owner.post(owner.base + "/keys", {"kind": "secret", "name": "ci"}, format="json").json()
    owner.patch(owner.base + "/settings", {"cors_origins": ["https://app.example"]}, format="json")
    owner.get(owner.base + "/keys")  # reads are not audited
    log = entries(owner)
    assert [e["action"] for e in log] == ["settings.update", "keys.create"]
    key_entry = log[1]
    assert key_entry["actor"]["email"] == project.owner.email and key_entry["via"] == "api"
    assert key_entry["summary"]["request"] == {"kind": "secret", "name": "ci"}
    assert key_entry["summary"]["answer"]["id"] == created["id"]
    assert created["key"] not in str(log) and key_entry["address"] == "127.0.0.1" and key_entry["at"].endswith("Z")
    owner.delete(f"{owner.base}/keys/{created['id']}")
    latest = entries(owner)[0]
    assert latest["action"] == "keys.delete" and latest["target"] == created["id"]


def test_secret_looking_fields_and_values_are_redacted(owner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    hook = owner.post(
        owner.base + "/webhooks", {"url": "http://127.0.0.1:9/", "events": ["documents.create"]}, format="json"
    )
    assert hook.status_code == 201
    (entry,) = entries(owner, action="webhooks")
    assert entry["action"] == "webhooks.create" and hook.json()["secret"] not in str(entry)
    owner.post(f"{owner.base}/webhooks/{hook.json()['id']}/ping")
    assert entries(owner, action="webhooks")[0]["action"] == "webhooks.ping"
    from basalt.operations.audit import redact

    assert redact({"password": "x", "apiKey": "y", "nested": {"client_secret": "z"}, "note": "sk_" + "a" * 30}) == {
        "password": "[redacted]",
        "apiKey": "[redacted]",
        "nested": {"client_secret": "[redacted]"},
        "note": "[redacted]",
    }


def test_console_actions_are_recorded(project):
    browser = Client()
    browser.force_login(project.owner, backend="django.contrib.auth.backends.ModelBackend")
    response = browser.post(f"/console/p/{project.project.ref}/keys", {"kind": "publishable", "name": "web"})
    assert response.status_code in (200, 201)
    owner = console_client_for(project.owner)
    owner.base = f"/api/v1/manage/projects/{project.project.ref}"
    (entry,) = entries(owner, via="console")
    assert entry["action"] == "keys.create" and "csrfmiddlewaretoken" not in str(entry["summary"]).replace(
        "'csrfmiddlewaretoken': '[redacted]'", ""
    )


def test_failed_and_refused_writes_are_not_entries_and_filters_work(owner, project, make_account):
    from basalt.projects import services

    owner.post(owner.base + "/keys", {"kind": "nope"}, format="json")  # 400: nothing happened
    viewer = make_account()
    services.join_project(project.project, viewer, "viewer")
    client = console_client_for(viewer)
    client.base = owner.base
    client.post(owner.base + "/keys", {"kind": "secret"}, format="json")  # 403
    assert entries(owner) == []
    assert client.get(owner.base + "/audit").status_code == 403  # addresses are for admins
    owner.post(owner.base + "/keys", {"kind": "secret", "name": "a"}, format="json")
    assert len(entries(owner, actor=project.owner.email.upper())) == 1
    assert entries(owner, actor="someone@else.example") == []
    for params in ({"via": "fax"}, {"cursor": "abc"}, {"cursor": "9" * 40}):
        response = owner.get(owner.base + "/audit", params)
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"


def test_pages_by_cursor_and_entries_are_append_only(owner):
    from basalt.operations.models import AuditEntry

    for n in range(55):
        owner.post(owner.base + "/keys", {"kind": "publishable", "name": f"k{n}"}, format="json")
    first = owner.get(owner.base + "/audit").json()
    second = owner.get(owner.base + "/audit", {"cursor": first["next_cursor"]}).json()
    assert len(first["results"]) == 50 and len(second["results"]) == 5 and second["next_cursor"] is None
    ids = [e["id"] for e in first["results"] + second["results"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 55
    entry = AuditEntry.objects.first()
    entry.action = "forged"
    with pytest.raises(ValueError):
        entry.save()


def test_retention_removes_old_entries_only(owner, settings):
    from datetime import timedelta

    from django.utils import timezone

    from basalt.operations import audit
    from basalt.operations.models import AuditEntry

    settings.AUDIT_RETENTION_DAYS = 30
    owner.post(owner.base + "/keys", {"kind": "publishable", "name": "old"}, format="json")
    owner.post(owner.base + "/keys", {"kind": "publishable", "name": "new"}, format="json")
    AuditEntry.objects.filter(id=AuditEntry.objects.order_by("id").first().id).update(
        at=timezone.now() - timedelta(days=31)
    )
    assert audit.purge_expired() == 1
    assert [e["summary"]["request"]["name"] for e in entries(owner)] == ["new"]


def test_console_audit_page_filters(project, owner, make_account):
    from basalt.projects import services

    owner.post(owner.base + "/keys", {"kind": "publishable", "name": "alpha"}, format="json")
    owner.patch(owner.base + "/settings", {"cors_origins": []}, format="json")
    browser = Client()
    browser.force_login(project.owner, backend="django.contrib.auth.backends.ModelBackend")
    page = browser.get(f"/console/p/{project.project.ref}/audit", {"action": "keys"})
    assert page.status_code == 200 and b"keys.create" in page.content and b"settings.update" not in page.content
    viewer = make_account()
    services.join_project(project.project, viewer, "viewer")
    other = Client()
    other.force_login(viewer, backend="django.contrib.auth.backends.ModelBackend")
    assert other.get(f"/console/p/{project.project.ref}/audit").status_code == 403


def test_changes_keep_a_summary_of_what_was_there_before(owner, project, make_account, settings):
    """Settings, schema, key and member changes record the earlier state; secrets never appear in it."""
    from basalt.projects.services import join_project

    owner.patch(owner.base + "/settings", {"cors_origins": ["https://one.example"]}, format="json")
    owner.patch(owner.base + "/settings", {"cors_origins": ["https://two.example"]}, format="json")
    latest = entries(owner)[0]
    assert latest["summary"]["before"]["cors_origins"] == ["https://one.example"]
    assert latest["summary"]["request"] == {"cors_origins": ["https://two.example"]}

    body = {"name": "notes", "fields": {"title": {"type": "string"}}}
    assert owner.post(owner.base + "/collections", body, format="json").status_code == 201
    assert "before" not in entries(owner)[0]["summary"]  # a create: nothing was there
    owner.patch(owner.base + "/collections/notes", {"fields": {"n": {"type": "number"}}}, format="json")
    before = entries(owner)[0]["summary"]["before"]
    assert before["fields"] == {"title": "string"} and before["default_acl"] == "owner"

    key = owner.post(owner.base + "/keys", {"kind": "secret", "name": "ci"}, format="json").json()
    owner.delete(f"{owner.base}/keys/{key['id']}")
    before = entries(owner)[0]["summary"]["before"]
    assert before == {"id": key["id"], "kind": "secret", "name": "ci", "last4": key["key"][-4:], "revoked": False}
    assert key["key"] not in str(entries(owner))

    member = join_project(project.project, make_account(), "viewer")
    owner.patch(f"{owner.base}/members/{member.pk}", {"role": "developer"}, format="json")
    assert entries(owner)[0]["summary"]["before"]["role"] == "viewer"


def test_console_setting_forms_record_the_section_before(project):
    client = Client()
    client.force_login(project.owner, backend="django.contrib.auth.backends.ModelBackend")
    ref = project.project.ref
    client.post(f"/console/p/{ref}/settings/cors", {"cors_origins": "https://a.example"})
    client.post(f"/console/p/{ref}/settings/cors", {"cors_origins": "https://b.example"})
    owner = console_client_for(project.owner)
    owner.base = f"/api/v1/manage/projects/{ref}"
    latest = entries(owner)[0]
    assert latest["via"] == "console" and latest["summary"]["before"] == {"cors_origins": ["https://a.example"]}

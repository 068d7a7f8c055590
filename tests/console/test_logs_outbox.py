"""Request logs (written off the request path, filtered, trimmed, never secrets) and the mail
outbox, across the role matrix; plus the project switcher and roles on project cards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from basalt.documents import catalog
from basalt.logs import buffer
from basalt.logs.models import RequestLog, SentMail
from basalt.projects import invitations
from basalt.projects.models import Project

pytestmark = pytest.mark.django_db

ROLES = ["viewer", "developer", "admin", "owner"]


@pytest.fixture(autouse=True)
def clean_buffer():
    buffer.discard()
    yield
    buffer.discard()


@pytest.fixture
def traffic(project, secret_client, publishable_client):
    """A few data-API calls: a success, a 404 with its error code, a refused key."""
    catalog.create_collection(project.project, {"name": "notes", "fields": {"title": {"type": "string"}}})
    created = secret_client.post(
        "/api/v1/collections/notes/documents?token=hunter2",
        {"title": "a"},
        format="json",
        HTTP_X_REQUEST_ID="req-created-1",
    )
    missing = secret_client.get("/api/v1/collections/notes/documents/nothere", HTTP_X_REQUEST_ID="req-missing-1")
    assert created.status_code == 201 and missing.status_code == 404
    return f"/console/p/{project.project.ref}/logs"


def test_requests_are_buffered_then_written_in_bulk_without_secrets(traffic, project):
    assert buffer.pending() == 2 and RequestLog.objects.count() == 0  # nothing written on the request path
    assert buffer.flush() == 2
    rows = {r.request_id: r for r in RequestLog.objects.filter(project=project.project)}
    created, missing = rows["req-created-1"], rows["req-missing-1"]
    assert (created.method, created.status, created.caller_kind, created.route) == ("POST", 201, "secret", "documents")
    assert created.path == "/api/v1/collections/notes/documents" and created.latency_ms > 0
    assert abs((created.at - timezone.now()).total_seconds()) < 60  # stored as the instant it was, in UTC
    assert (missing.status, missing.error_code) == (404, "not_found")
    stored = " ".join(f"{r.path} {r.error_code} {r.user_id} {r.request_id}" for r in rows.values())
    assert "hunter2" not in stored and project.secret not in stored and "sk_" not in stored


@pytest.mark.parametrize("role", ROLES)
def test_every_member_reads_the_logs_and_only_admins_change_retention(as_role, traffic, project, role):
    client = as_role(role)
    page = client.get(traffic)
    assert page.status_code == 200 and "req-missing-1" in page.content.decode()
    answer = client.post(f"{traffic}/retention", {"retention_days": "3"})
    stored = Project.objects.get(pk=project.project.pk).settings.get("logs")
    if role in ("admin", "owner"):
        assert answer.status_code == 302 and stored == {"retention_days": 3}
        assert 'id="retention"' in page.content.decode()
    else:
        assert answer.status_code == 403 and stored is None
        assert 'id="retention"' not in page.content.decode()


def test_filters_by_request_id_status_route_and_user(owner_client, traffic):
    by_id = owner_client.get(traffic, {"rid": "req-created-1"}).content.decode()
    assert "req-created-1" in by_id and "req-missing-1" not in by_id
    errors = owner_client.get(traffic, {"status": "4xx"}).content.decode()
    assert "req-missing-1" in errors and "req-created-1" not in errors
    routed = owner_client.get(traffic, {"route": "auth"}).content.decode()
    assert "req-created-1" not in routed and "No requests match" in routed
    prefixed = owner_client.get(traffic, {"route": "/api/v1/collections/notes/documents/"}).content.decode()
    assert "req-missing-1" in prefixed and "req-created-1" not in prefixed
    assert "No requests match" in owner_client.get(traffic, {"user": "u_nobody"}).content.decode()
    chart = owner_client.get(traffic).content.decode()
    assert "2 requests · 50.0% errors" in chart and 'class="err-bar"' in chart


@pytest.mark.parametrize(
    "query", [{"status": "abc"}, {"status": "\u00b9\u00b2\u00b3"}, {"range": "9y"}, {"before": "x"}, {"rid": "x" * 500}]
)
def test_odd_filters_never_fail(owner_client, traffic, query):
    assert owner_client.get(traffic, query).status_code == 200


def test_bad_retention_changes_nothing(owner_client, traffic, project):
    for value in ("0", "91", "ten", ""):
        owner_client.post(f"{traffic}/retention", {"retention_days": value})
    assert "logs" not in Project.objects.get(pk=project.project.pk).settings


def test_logs_of_another_project_are_not_shown(owner_client, traffic, make_project):
    other = make_project("Other")
    buffer.flush()
    assert owner_client.get(f"/console/p/{other.project.ref}/logs").status_code == 404
    foreign = other.owner
    from django.test import Client

    client = Client()
    client.force_login(foreign, backend="django.contrib.auth.backends.ModelBackend")
    assert "req-created-1" not in client.get(f"/console/p/{other.project.ref}/logs").content.decode()


def test_trimming_keeps_the_retention_and_the_row_cap(settings, project):
    settings.REQUEST_LOG_MAX_ROWS = 5
    old = timezone.now() - timedelta(days=10)
    rows = [
        RequestLog(
            project=project.project,
            at=old if n < 3 else timezone.now(),
            method="GET",
            path="/api/v1/x",
            route="api_other",
            status=200,
            latency_ms=1,
            caller_kind="secret",
            request_id=f"r{n}",
        )
        for n in range(12)
    ]
    RequestLog.objects.bulk_create(rows)
    buffer.trim([project.project.pk])
    kept = list(RequestLog.objects.order_by("id").values_list("request_id", flat=True))
    assert kept == [f"r{n}" for n in range(7, 12)]


def test_unknown_project_lines_are_dropped_not_failed(project):
    buffer._buffer.append((10**9, 0.0, "GET", "/api/v1/x", 200, "", 1.0, "secret", "", "rid-orphan"))
    assert buffer.flush() == 0 and not RequestLog.objects.filter(request_id="rid-orphan").exists()


# --- outbox -----------------------------------------------------------------------------------


@pytest.fixture
def outbox_mail(settings, tmp_path, project):
    settings.EMAIL_BACKEND = "basalt.logs.mail.OutboxBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    return f"/console/p/{project.project.ref}/outbox"


@pytest.mark.parametrize("role", ROLES)
def test_outbox_shows_invitation_links_to_admins_only(
    as_role, project, outbox_mail, role, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_member(
            project.owner,
            project.project.ref,
            "newcomer@example.com",
            "viewer",
            accept_url="http://testserver/console/invite/{token}",
        )
    sent = SentMail.objects.get()
    assert sent.project_id == project.project.pk and sent.kind == "invitation"
    assert re.fullmatch(r"http://testserver/console/invite/[A-Za-z0-9_-]+", sent.links[0])
    assert list(tmp_path_files(outbox_mail))  # still written to the mail folder too
    page = as_role(role).get(outbox_mail)
    if role in ("admin", "owner"):
        body = page.content.decode()
        assert page.status_code == 200 and sent.links[0] in body and "No mail server configured" in body
    else:
        assert page.status_code == 403 and sent.links[0] not in page.content.decode()


def tmp_path_files(_url):
    from pathlib import Path

    from django.conf import settings

    return Path(settings.EMAIL_FILE_PATH).iterdir()


def test_members_page_points_at_the_outbox_when_mail_is_not_sent(owner_client, project, outbox_mail):
    page = owner_client.get(f"/console/p/{project.project.ref}/members").content.decode()
    assert "No mail server configured: see" in page and outbox_mail in page


def test_outbox_of_another_project_is_empty(
    owner_client, project, outbox_mail, make_project, django_capture_on_commit_callbacks
):
    other = make_project("Other")
    with django_capture_on_commit_callbacks(execute=True):
        invitations.invite_member(
            other.owner,
            other.project.ref,
            "x@example.com",
            "viewer",
            accept_url="http://testserver/console/invite/{token}",
        )
    assert "x@example.com" not in owner_client.get(outbox_mail).content.decode()
    assert len(mail.outbox) == 0  # the outbox backend replaced locmem here


# --- project switcher, roles on cards -------------------------------------------------------------


def test_project_cards_show_my_role_and_the_sidebar_switches(browser_for, make_account, make_project, project):
    from basalt.projects import services

    account = make_account()
    services.join_project(project.project, account, "developer")
    other = make_project("Second")
    services.join_project(other.project, account, "viewer")
    client = browser_for(account)
    cards = client.get("/console/projects").content.decode()
    assert "role-badge role-developer" in cards and "role-badge role-viewer" in cards
    home = client.get(f"/console/p/{project.project.ref}/").content.decode()
    assert "Switch project" in home and f'href="/console/p/{other.project.ref}"' in home


# --- email templates: edit, preview, send a test --------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_email_templates_matrix(as_role, project, role):
    from basalt.identity.auth_settings import auth_settings

    client = as_role(role)
    url = f"/console/p/{project.project.ref}/settings/emails"
    page = client.get(url).content.decode()
    assert "Please confirm that {email}" in page
    form = {"kind": "verify", "subject": "Confirm for {project_name}", "body": "Hi {email}: {link}"}
    preview = client.post(f"{url}/save", {**form, "action": "preview"})
    saved = client.post(f"{url}/save", {**form, "action": "save"})
    stored = auth_settings(Project.objects.get(pk=project.project.pk)).email_templates
    if role in ("admin", "owner"):
        shown = preview.content.decode()
        assert preview.status_code == 200 and f"Confirm for {project.project.name}" in shown
        assert client.account.email in shown  # the sample values use your own address
        assert saved.status_code == 302 and stored == {"verify": {"subject": form["subject"], "body": form["body"]}}
        assert ">Save template<" in page
    else:
        assert preview.status_code == saved.status_code == 403 and stored == {}
        assert ">Save template<" not in page


def test_a_test_mail_goes_to_me_and_lands_in_the_outbox(owner_client, project, outbox_mail):
    url = f"/console/p/{project.project.ref}/settings/emails/save"
    answer = owner_client.post(
        url, {"kind": "reset", "subject": "Reset {project_name}", "body": "{link}", "action": "test"}
    )
    assert answer.status_code == 302
    sent = SentMail.objects.get(kind="test")
    assert sent.to == project.owner.email and sent.subject == f"[test] Reset {project.project.name}"
    assert "No mail server configured: see Outbox" in owner_client.get(answer["Location"]).content.decode()


def test_a_bad_template_is_refused_and_changes_nothing(owner_client, project):
    from basalt.identity.auth_settings import auth_settings

    url = f"/console/p/{project.project.ref}/settings/emails/save"
    answer = owner_client.post(url, {"kind": "verify", "subject": "a", "body": "x" * 20001, "action": "save"})
    assert answer.status_code in (302, 400)
    assert auth_settings(Project.objects.get(pk=project.project.pk)).email_templates == {}
    assert owner_client.post(url, {"kind": "nope", "subject": "a", "body": "b", "action": "save"}).status_code == 302

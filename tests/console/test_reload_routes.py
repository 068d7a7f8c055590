"""Reloading the address a console form left in the bar lands on a page, never a blank 405."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.urls import URLPattern, reverse
from djoser.utils import encode_uid

from basalt.documents import catalog, saved_views
from basalt.documents import services as documents
from basalt.identity import roles as identity_roles
from basalt.identity import services as identity
from basalt.projects import invitations, services
from console import urls as console_urls
from console.caller import console_caller

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def world(project, make_account, django_capture_on_commit_callbacks):
    """One of everything a console URL can name, so every route can be filled in."""
    ref, owner = project.project.ref, project.owner
    caller = console_caller(project.project, owner.pk)
    catalog.create_collection(
        project.project,
        {"name": "notes", "fields": {"title": {"type": "string"}}, "indexes": [{"fields": ["title"]}]},
    )
    doc = documents.create_document(caller, "notes", {"title": "a"}).body
    member = services.join_project(project.project, make_account(), "developer")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = invitations.invite_member(
            owner, ref, "new@example.com", "viewer", accept_url="http://testserver/console/invite/{token}"
        )
    token = re.search(r"/console/invite/([A-Za-z0-9_-]+)", mail.outbox[-1].body).group(1)
    user = identity.sign_up(
        console_caller(project.project, project.owner.pk),
        {"email": "u@example.com", "password": "a long passphrase"},
        identity.Client(),
    )
    identity_roles.create_role(caller, {"name": "chef"})
    identity_roles.create_role(caller, {"name": "sous"})
    identity_roles.add_users(caller, "chef", [user["user"]["id"]])
    identity_roles.add_roles(caller, "chef", ["sous"])
    owner.refresh_from_db()  # a reset token hashes the stored last_login
    from django.db import transaction

    from basalt.hooks import dispatch, job_services
    from basalt.hooks import services as hook_services

    endpoint = hook_services.create_endpoint(
        owner, ref, {"url": "http://93.184.216.34/h", "events": ["documents.create"]}
    )
    with transaction.atomic():
        (delivery,) = dispatch.emit(project.project.id, "webhook.ping", {}, endpoint=endpoint.endpoint)
    job = job_services.create_job(
        owner, ref, {"name": "j", "kind": "webhook", "cron": "0 3 * * *", "config": {"url": "http://93.184.216.34/j"}}
    ).job
    return {
        "endpoint_id": endpoint.endpoint.id,
        "delivery_id": delivery.id,
        "job_id": job.id,
        "ref": ref,
        "name": "notes",
        "doc_id": doc["id"],
        "field": "title",
        "position": "0",
        "key_id": services.list_keys(owner, ref)[0].id,
        "member_id": str(member.pk),
        "invitation_id": invitation.id,
        "token": token,
        "user_id": user["user"]["id"],
        "child": "sous",
        # An emailed account link of the owner (already active: the activation page says so).
        "uid": encode_uid(owner.pk),
        "link_token": default_token_generator.make_token(owner),
        # A scheduled push (basalt.push), so the cancel route names a real one.
        "push_id": _scheduled_push(caller),
        "file_id": _stored_file(project.secret),
        # A finished export (basalt.operations), so its download route has an archive to send.
        "export_id": _finished_export(project.project),
        # A saved view of the data browser, so its delete route names a real one.
        "view_id": str(saved_views.save_view(owner, ref, "notes", "Recent", "order=-created_at").pk),
        # A registered device, so the push page's channel forms name a real one.
        "installation_id": _installation(project.publishable),
    }


def _installation(publishable: str) -> str:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=publishable)
    body = {"platform": "android", "provider": "fcm", "token": "f" * 30, "channels": ["news"]}
    answer = client.post("/api/v1/installations", body, format="json")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def _finished_export(project) -> str:
    from basalt.operations import transfers
    from basalt.operations.models import Transfer

    transfer = Transfer.objects.create(project=project, kind=Transfer.EXPORT)
    transfers.run(transfer.id)
    return transfer.id


def _stored_file(secret: str) -> str:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    import io

    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (8, 8), "teal").save(png, "PNG")  # an image, so its preview route has one to show
    answer = client.generic("POST", "/api/v1/files?name=dot.png", png.getvalue(), content_type="image/png")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def _scheduled_push(caller) -> str:
    from basalt.push import services as push_services

    answer, _ = push_services.send_push(
        caller, {"audience": {}, "notification": {"title": "later"}, "send_at": "2026-12-31T00:00:00Z"}
    )
    return answer["id"]


def _routes() -> list[URLPattern]:
    return [p for p in console_urls.urlpatterns if isinstance(p, URLPattern)]


def test_every_console_route_answers_a_get_with_a_page(owner_client, world):
    """A GET on every console address (form actions included) ends on a 200 page: a reload after
    any form, delete or invitation shows the page, not a 405."""
    for route in _routes():
        groups = route.pattern.regex.groupindex
        values = {**world, "name": "chef"} if route.name.startswith("role") else world
        url = reverse(f"console:{route.name}", kwargs={g: values[g] for g in groups})
        response = owner_client.get(url, follow=True)
        statuses = [status for _, status in response.redirect_chain] + [response.status_code]
        assert 405 not in statuses and response.status_code == 200, (route.name, url, statuses)
    # The GET on the sign-out action did not sign anyone out.
    assert owner_client.get(f"/console/p/{world['ref']}/").status_code == 200


@pytest.mark.parametrize(
    ("action", "data", "status", "landing"),
    [
        ("keys", {"kind": "publishable", "name": "app"}, 201, "#keys"),
        ("schema/notes/indexes", {"index_fields": ""}, 400, "schema/notes#indexes"),
        ("settings/cors", {"cors_origins": "not an origin"}, 400, "settings#cors"),
        ("invitations", {"email": "not an email", "role": "viewer"}, 400, "members#invitations"),
        ("roles/chef/users", {"user": "nobody@example.com"}, 400, "roles/chef"),
        ("push/installations/{installation_id}/channels", {"channels": "bad name"}, 400, "push#installations"),
    ],
)
def test_a_rendered_answer_to_a_form_puts_its_pages_address_in_the_bar(
    owner_client, world, action, data, status, landing
):
    """htmx shows HX-Push-Url's address instead of the POST address, so a reload lands on the page."""
    path = action.format(**world)
    response = owner_client.post(f"/console/p/{world['ref']}/{path}", data, HTTP_HX_REQUEST="true")
    assert response.status_code == status
    separator = "" if landing.startswith("#") else "/"
    assert response["HX-Push-Url"] == f"/console/p/{world['ref']}{separator}{landing}"


def test_a_new_project_answers_with_its_own_address(browser_for, make_account):
    response = browser_for(make_account()).post("/console/projects", {"name": "Fresh"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 201
    ref = re.search(r'id="project-ref">([a-z0-9]+)<', response.content.decode()).group(1)
    assert response["HX-Push-Url"] == f"/console/p/{ref}"


UNBOUNDED_TYPES = ("hidden", "checkbox", "radio", "number", "datetime-local", "submit", "file")


def _unbounded_boxes(page: str) -> list[str]:
    boxes = re.findall(r"<input\b[^>]*>|<textarea\b[^>]*>", page)
    typed = [(box, re.search(r'type="([^"]+)"', box)) for box in boxes]
    return [
        box
        for box, kind in typed
        if not (kind and kind.group(1) in UNBOUNDED_TYPES) and not re.search(r'maxlength="\d+"', box)
    ]


def test_every_text_box_on_every_console_page_has_a_maxlength(owner_client, world, client):
    """Boxes take no more than the server accepts: every text input and textarea has a maxlength."""
    pages = {"/console/signin": client.get("/console/signin"), "/console/signup": client.get("/console/signup")}
    for route in _routes():
        values = {**world, "name": "chef"} if route.name.startswith("role") else world
        url = reverse(f"console:{route.name}", kwargs={g: values[g] for g in route.pattern.regex.groupindex})
        pages[url] = owner_client.get(url, follow=True)
    pages["document_new"] = owner_client.get(f"/console/p/{world['ref']}/data/notes/new")
    for url, response in pages.items():
        if response["Content-Type"].startswith("text/html"):
            assert _unbounded_boxes(response.content.decode()) == [], url

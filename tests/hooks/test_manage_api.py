"""The webhooks management API: roles, tenancy, and clear JSON errors for hostile input (never 5xx)."""

from __future__ import annotations

import pytest

from tests.conftest import console_client_for

pytestmark = pytest.mark.django_db

GOOD = {"url": "http://127.0.0.1:9/hook", "events": ["documents.create"]}


@pytest.fixture
def app(project, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    project.console = console_client_for(project.owner)
    project.base = f"/api/v1/manage/projects/{project.project.ref}/webhooks"
    return project


@pytest.mark.parametrize(
    "body, field",
    [
        ({**GOOD, "url": "gopher://x/"}, "url"),
        ({**GOOD, "url": ["http://a/"]}, "url"),
        ({"events": ["documents.create"]}, "url"),
        ({**GOOD, "events": []}, "events"),
        ({**GOOD, "events": "documents.create"}, "events"),
        ({**GOOD, "events": ["documents.explode"]}, "events"),
        ({**GOOD, "events": [{"$gt": 1}]}, "events"),
        ({**GOOD, "collections": "posts"}, "collections"),
        ({**GOOD, "collections": ["x" * 64]}, "collections"),
        ({**GOOD, "where": {"a": 1}}, "where"),  # where without exactly one collection
        ({**GOOD, "collections": ["nope"], "where": {"a": 1}}, "collections"),
        ({**GOOD, "enabled": "yes"}, "enabled"),
        ({**GOOD, "description": "d" * 201}, "description"),
        ({**GOOD, "description": "a\x00b"}, "description"),  # PostgreSQL cannot store NUL (SQLite did)
        ({**GOOD, "secret": "whsec_mine"}, "secret"),
        ({**GOOD, "__proto__": 1}, "__proto__"),
    ],
)
def test_invalid_bodies_are_400_validation_failed(app, body, field):
    response = app.console.post(app.base, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_failed" and field in error["details"]


def test_where_is_checked_against_the_collection_schema(app, secret_client):
    body = {"name": "posts", "fields": {"score": {"type": "number"}}}
    assert secret_client.post("/api/v1/schema/collections", body, format="json").status_code == 201
    for where in ({"nope": 1}, {"score": {"$regex": 5}}, {"$or": "x"}, "score > 1"):
        response = app.console.post(app.base, {**GOOD, "collections": ["posts"], "where": where}, format="json")
        assert response.status_code == 400 and "where" in response.json()["error"]["details"], where
    ok = app.console.post(app.base, {**GOOD, "collections": ["posts"], "where": {"score": {"$gt": 1}}}, format="json")
    assert ok.status_code == 201


def test_not_json_and_not_an_object_are_clear_errors(app):
    response = app.console.post(app.base, b"{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    response = app.console.post(app.base, [1, 2], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"


def test_unknown_ids_are_404_json(app):
    for method, path in [
        ("get", "/ep_nope"),
        ("patch", "/ep_nope"),
        ("delete", "/ep_nope"),
        ("get", "/ep_nope/deliveries"),
        ("post", "/ep_nope/ping"),
    ]:
        response = getattr(app.console, method)(app.base + path, {}, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
    base = app.base.removesuffix("/webhooks")
    for path in ("/deliveries/msg_nope", "/deliveries/msg_nope/redeliver", "/deliveries/" + "x" * 500):
        response = app.console.post(base + path) if path.endswith("redeliver") else app.console.get(base + path)
        assert response.status_code == 404, path


def test_delivery_filters_are_validated(app):
    endpoint = app.console.post(app.base, GOOD, format="json").json()
    for params in ({"status": "exploded"}, {"before": "msg_unknown"}):
        response = app.console.get(f"{app.base}/{endpoint['id']}/deliveries", params)
        assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"


def test_the_secret_is_stored_sealed_not_in_clear(app):
    from basalt.hooks.models import Endpoint

    created = app.console.post(app.base, GOOD, format="json").json()
    row = Endpoint.objects.get(id=created["id"])
    assert (
        created["secret"] not in row.secret_sealed and created["secret"].removeprefix("whsec_") not in row.secret_sealed
    )


@pytest.mark.parametrize("role, can_write", [("viewer", False), ("developer", False), ("admin", True), ("owner", True)])
def test_roles(app, make_account, role, can_write):
    from basalt.projects import services

    created = app.console.post(app.base, GOOD, format="json").json()
    if role == "owner":
        client = app.console
    else:
        account = make_account()
        services.join_project(app.project, account, role)
        client = console_client_for(account)
    assert client.get(app.base).status_code == 200
    assert client.get(f"{app.base}/{created['id']}/deliveries").status_code == 200
    expected = 201 if can_write else 403
    assert client.post(app.base, GOOD, format="json").status_code == expected
    expected = 202 if can_write else 403
    assert client.post(f"{app.base}/{created['id']}/ping").status_code == expected
    expected = 204 if can_write else 403
    assert client.delete(f"{app.base}/{created['id']}").status_code == expected


def test_another_projects_member_sees_nothing(app, make_project):
    created = app.console.post(app.base, GOOD, format="json").json()
    other = make_project()
    stranger = console_client_for(other.owner)
    assert stranger.get(app.base).status_code == 404
    assert stranger.get(f"{app.base}/{created['id']}").status_code == 404
    # Its own project's path with this project's endpoint id: still not found.
    foreign = f"/api/v1/manage/projects/{other.project.ref}/webhooks/{created['id']}"
    assert stranger.get(foreign).status_code == 404
    assert stranger.delete(foreign).status_code == 404
    assert app.console.get(f"{app.base}/{created['id']}").status_code == 200


def test_a_project_has_a_bounded_number_of_endpoints(app):
    from basalt.hooks.services import MAX_ENDPOINTS

    for _ in range(MAX_ENDPOINTS):
        assert app.console.post(app.base, GOOD, format="json").status_code == 201
    response = app.console.post(app.base, GOOD, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"

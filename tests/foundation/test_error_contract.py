"""The error contract of API.md §1 under hostile input, on management and data-API routes.

Bodies that are not JSON, not UTF-8, absurdly deep or 10 MB; wrong types; unknown routes and
methods; a crash inside a service. Every answer is the JSON error shape, never HTML, never a
trace, and every response carries X-Request-Id.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from tests.conftest import console_client_for
from tests.foundation.conftest import assert_error, error_of

pytestmark = pytest.mark.django_db

TEN_MB = 10 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    """A route that takes a JSON body, and the credentials it needs."""

    name: str
    method: str
    path: str
    auth: str  # "console" (owner token), "secret" or "publishable" (API key)
    has_name_field: bool = True


ROUTES = [
    Route("create project", "POST", "/api/v1/manage/projects", "console"),
    Route("patch project", "PATCH", "/api/v1/manage/projects/{ref}", "console"),
    Route("create key", "POST", "/api/v1/manage/projects/{ref}/keys", "console"),
    Route("patch settings", "PATCH", "/api/v1/manage/projects/{ref}/settings", "console", has_name_field=False),
    Route("create collection (data API)", "POST", "/api/v1/schema/collections", "secret"),
    Route("create document (data API)", "POST", "/api/v1/collections/notes/documents", "secret", has_name_field=False),
    Route("end-user sign-up (data API)", "POST", "/api/v1/auth/signup", "publishable", has_name_field=False),
]


@pytest.fixture
def caller(project):
    """Send raw bytes to a route with the right credentials."""
    from basalt.documents import catalog

    catalog.create_collection(project.project, {"name": "notes", "fields": {"name": {"type": "string"}}})

    def send(route: Route, body: bytes | str, content_type: str = "application/json", **extra):
        if route.auth == "console":
            client = console_client_for(project.owner)
        else:
            client = APIClient()
            client.credentials(HTTP_X_API_KEY=project.secret if route.auth == "secret" else project.publishable)
        path = route.path.format(ref=project.project.ref)
        return client.generic(route.method, path, body, content_type=content_type, **extra)

    return send


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize(
    "body",
    [b"{", b'{"name": }', b"{'name': 'x'}", b'{"name": "x"} trailing', b"NaN", b'{"a": NaN}', b"\xef\xbb\xbf{}"],
    ids=["open brace", "missing value", "single quotes", "trailing", "NaN", "NaN inside", "BOM"],
)
def test_malformed_json_is_invalid_json(caller, route, body):
    assert_error(caller(route, body), 400, "invalid_json")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("body", [b'{"name": "\xff\xfe"}', b'{"name": "\xed\xa0\x80"}', b"\x80"])
def test_invalid_utf8_is_invalid_json(caller, route, body):
    assert_error(caller(route, body), 400, "invalid_json")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("shape", ["array", "object", "closed array"])
def test_json_nested_100000_deep_is_refused_without_crashing(caller, route, shape):
    depth = 100_000
    body = {
        "array": b"[" * depth,
        "object": b'{"a":' * depth,
        "closed array": b"[" * depth + b"]" * depth,
    }[shape]
    response = caller(route, body)
    assert response.status_code == 400, response.content[:200]
    assert error_of(response)["code"] in {"invalid_json", "validation_failed"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_moderately_deep_json_within_orjson_limit_is_refused(caller, route):
    """65 levels parse fine but exceed Basalt's own depth bound: still a clean 400."""
    body = b'{"name": ' + b"[" * 65 + b"]" * 65 + b"}"
    response = caller(route, body)
    assert response.status_code == 400, response.content[:200]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_ten_megabyte_body_is_payload_too_large(caller, route):
    body = b'{"name": "' + b"x" * TEN_MB + b'"}'
    assert_error(caller(route, body), 413, "payload_too_large")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.has_name_field], ids=lambda r: r.name)
@pytest.mark.parametrize(
    "body",
    [
        b'{"name": 123}',
        b'{"name": ["x"]}',
        b'{"name": {"x": 1}}',
        b'{"name": null}',
        b'{"name": true}',
        b"[]",
        b'"x"',
        b"null",
        b"1",
    ],
)
def test_wrong_types_are_validation_failed(caller, route, body):
    from basalt.projects.models import ApiKey, Project

    before = (Project.objects.count(), ApiKey.objects.count(), list(Project.objects.values_list("name", flat=True)))
    assert_error(caller(route, body), 400, "validation_failed")
    after = (Project.objects.count(), ApiKey.objects.count(), list(Project.objects.values_list("name", flat=True)))
    assert before == after


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_non_json_content_type_is_unsupported_media_type(caller, route, content_type):
    assert_error(caller(route, b'{"name": "x"}', content_type=content_type), 415, "unsupported_media_type")


# --- routes, methods, crashes ------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/api/v2/projects", "/api/", "/api/v1/manage/nothing/", "/api/v1/project/extra"]
)
def test_unknown_route_is_json_not_found(method, path, settings):
    settings.DEBUG = True  # even Django's debug 404 page must not reach API clients
    client = APIClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path, {"x": 1}, format="json")
    assert_error(response, 404, "not_found")
    assert response["X-Request-Id"]


@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("put", "/api/v1/manage/projects", "console"),
        ("delete", "/api/v1/manage/projects", "console"),
        ("post", "/api/v1/manage/projects/{ref}/settings", "console"),
        ("get", "/api/v1/manage/projects/{ref}/keys/{key_id}", "console"),
        ("put", "/api/v1/project", "secret"),
        ("delete", "/api/v1/project", "publishable"),
    ],
)
def test_wrong_method_is_json_method_not_allowed(project, method, path, auth):
    from basalt.projects.models import ApiKey

    if auth == "console":
        client = console_client_for(project.owner)
    else:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=project.secret if auth == "secret" else project.publishable)
    key_id = ApiKey.objects.filter(project=project.project).first().id
    response = getattr(client, method)(path.format(ref=project.project.ref, key_id=key_id))
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"]


def test_health_probes_refuse_other_methods_as_json():
    for path in ("/healthz", "/readyz"):
        response = APIClient(enforce_csrf_checks=True).post(path, {}, format="json")
        assert_error(response, 405, "method_not_allowed")


@pytest.mark.parametrize("debug", [False, True])
def test_unexpected_exception_is_json_500_with_request_id(project, monkeypatch, settings, debug):
    from basalt.projects import services

    settings.DEBUG = debug

    def explode(*args, **kwargs):
        raise RuntimeError("kaboom: internal detail /etc/passwd")

    monkeypatch.setattr(services, "list_projects_with_roles", explode)
    client = console_client_for(project.owner)
    client.raise_request_exception = False
    response = client.get("/api/v1/manage/projects", HTTP_X_REQUEST_ID="trace-me-12345")
    error = assert_error(response, 500, "internal_error")
    assert error["details"]["request_id"] == response["X-Request-Id"] == "trace-me-12345"
    text = response.content.decode()
    assert "Traceback" not in text and "kaboom" not in text and "RuntimeError" not in text and "<html" not in text


def test_unexpected_exception_on_the_data_api_is_json_500(project, monkeypatch):
    from basalt.projects.api import data_views

    def explode(*args, **kwargs):
        raise KeyError("secret-internal-name")

    monkeypatch.setattr(data_views, "project_out", explode)
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/project", HTTP_X_API_KEY=project.secret)
    error = assert_error(response, 500, "internal_error")
    assert error["details"]["request_id"] == response["X-Request-Id"]
    assert "secret-internal-name" not in response.content.decode()


def test_database_outage_is_503_unavailable(project, monkeypatch):
    from django.db import OperationalError

    from basalt.projects import services

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(services, "list_projects_with_roles", down)
    client = console_client_for(project.owner)
    client.raise_request_exception = False
    response = client.get("/api/v1/manage/projects")
    assert_error(response, 503, "unavailable")
    assert int(response["Retry-After"]) >= 1
    assert "connection refused" not in response.content.decode()


# --- X-Request-Id ------------------------------------------------------------------------------


def test_every_kind_of_response_carries_a_request_id(project):
    from basalt.projects.models import ApiKey

    owner = console_client_for(project.owner)
    key_id = ApiKey.objects.filter(project=project.project, kind="publishable").first().id
    responses = {
        "healthz": APIClient().get("/healthz"),
        "readyz": APIClient().get("/readyz"),
        "200": owner.get("/api/v1/manage/projects"),
        "201": owner.post("/api/v1/manage/projects", {"name": "x"}, format="json"),
        "204": owner.delete(f"/api/v1/manage/projects/{project.project.ref}/keys/{key_id}"),
        "400": owner.post("/api/v1/manage/projects", b"{", content_type="application/json"),
        "401": APIClient().get("/api/v1/project"),
        "404": APIClient().get("/api/v1/nope"),
        "405": owner.put("/api/v1/manage/projects"),
        "413": owner.generic("POST", "/api/v1/manage/projects", b"x" * TEN_MB, content_type="application/json"),
        "console page": APIClient().get("/console/signin"),
    }
    for name, response in responses.items():
        assert len(response.get("X-Request-Id", "")) >= 8, name


def test_not_modified_carries_a_request_id(project):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    from basalt.documents import catalog

    catalog.create_collection(project.project, {"name": "etagged", "fields": {"t": {"type": "string"}}})
    created = client.post("/api/v1/collections/etagged/documents", {"t": "x"}, format="json")
    assert created.status_code == 201, created.content
    etag = created["ETag"]
    response = client.get(f"/api/v1/collections/etagged/documents/{created.json()['id']}", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304
    assert len(response["X-Request-Id"]) >= 8


def test_valid_request_id_is_echoed():
    for value in ["abcdefgh", "req-2026.11.21:42_x", "A" * 128]:
        assert APIClient().get("/healthz", HTTP_X_REQUEST_ID=value)["X-Request-Id"] == value


@pytest.mark.parametrize(
    "value",
    [
        "A" * 129,
        "abcdefgh\r\nSet-Cookie: x=1",
        "abcdefgh\n",
        "with spaces in it",
        "short",
        "",
        "<script>alert(1)</script>",
    ],
)
def test_invalid_request_id_is_replaced(value):
    response = APIClient().get("/api/v1/nothing", HTTP_X_REQUEST_ID=value)
    assert response.status_code == 404
    replaced = response["X-Request-Id"]
    assert replaced != value and len(replaced) == 32 and replaced.isalnum()
    assert "Set-Cookie" not in response or "x=1" not in response["Set-Cookie"]


# --- NUL and control characters (PostgreSQL refuses NUL outright; SQLite would store it) ----------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/manage/projects/ab\x00cd",
        "/api/v1/manage/projects/{ref}/keys/key_\x00",
        "/api/v1/manage/projects/{ref}/members/1\x00",
        "/api/v1/manage/projects/{ref}/collections/no\x00tes",
        "/api/v1/collections/no\x00tes/documents",
    ],
)
def test_nul_in_a_path_is_not_found(project, path):
    client = console_client_for(project.owner)
    client.credentials(HTTP_AUTHORIZATION=client._credentials["HTTP_AUTHORIZATION"], HTTP_X_API_KEY=project.secret)
    for method in ("get", "delete"):
        assert_error(getattr(client, method)(path.format(ref=project.project.ref)), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/manage/projects", {"name": "a\x00b"}),
        ("/api/v1/manage/projects", {"name": "bell\x07"}),
        ("/api/v1/manage/projects/{ref}/keys", {"kind": "secret", "name": "k\x00"}),
        ("/api/v1/manage/projects/{ref}/members", {"email": "a\x00@example.com", "role": "viewer"}),
    ],
)
def test_control_characters_in_names_are_validation_failed(project, path, body):
    from basalt.projects.models import ApiKey, Membership, Project

    before = (Project.objects.count(), ApiKey.objects.count(), Membership.objects.count())
    client = console_client_for(project.owner)
    assert_error(client.post(path.format(ref=project.project.ref), body, format="json"), 400, "validation_failed")
    assert (Project.objects.count(), ApiKey.objects.count(), Membership.objects.count()) == before


def test_the_depth_bound_counts_levels_of_values():
    """64 levels of values pass and a 65th is refused; an empty container has no level below it."""
    from basalt.core.json import json_depth_exceeds

    def nest(levels, leaf):
        for _ in range(levels - 1):
            leaf = [leaf]
        return leaf

    assert not json_depth_exceeds(nest(64, 1)) and json_depth_exceeds(nest(65, 1))
    assert not json_depth_exceeds(nest(64, [])) and not json_depth_exceeds(nest(63, {"a": 1}))
    assert json_depth_exceeds(nest(64, {"a": 1})) and json_depth_exceeds(nest(2, [nest(64, "x")]))

"""The data API's hot routes answered past the middleware chain (basalt.documents.api.hot_routes).

The same requests through the hot path and through the whole chain (HOT_ROUTES off) must give the
same status, headers and body, and leave the same traces: request log, usage count, metrics.
Requests that a layer of the chain treats specially must still go through it.
"""

from __future__ import annotations

from unittest import mock

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.urls import resolve
from rest_framework.test import APIClient

from basalt.documents.api import batch, documents
from basalt.documents.api.hot_routes import HOT_ROUTES, MIRRORED_MIDDLEWARE, HotRoutesMiddleware, _route
from basalt.operations.idempotency import IdempotencyMiddleware
from basalt.operations.metrics import REQUESTS
from basalt.parse.views import entry
from tests.conftest import app_client, chain_forbidden, console_client_for

ORIGIN = "https://app.example"


@pytest.fixture
def signed_in(project, posts):
    signup = APIClient()
    signup.credentials(HTTP_X_API_KEY=project.publishable)
    made = signup.post("/api/v1/auth/signup", {"email": "hot@example.com", "password": "pw-" + "x" * 12}, format="json")
    assert made.status_code == 201, made.content
    return made.json()["access_token"]


def answer(response) -> tuple[int, dict[str, str], bytes]:
    headers = {name.lower(): value for name, value in response.items() if name.lower() != "x-request-id"}
    return response.status_code, headers, response.content


def test_the_hot_routes_are_the_urlconfs_own():
    cases = {
        "/api/v1/collections/posts/documents": (documents.documents, {"name": "posts"}),
        "/api/v1/collections/posts/documents/": (documents.documents, {"name": "posts"}),
        "/api/v1/collections/Odd%20Name/documents/abc": (
            documents.document,
            {"name": "Odd%20Name", "doc_id": "abc"},
        ),
        "/api/v1/collections/posts/documents/abc/": (documents.document, {"name": "posts", "doc_id": "abc"}),
        "/api/v1/collections/posts/query": (documents.query, {"name": "posts"}),
        "/api/v1/batch/": (batch.batch, {}),
        "/parse/classes/GameScore/abc": (entry, {"path": "classes/GameScore/abc"}),
        "/parse/": (entry, {"path": ""}),
        "/parse/functions/hello": (entry, {"path": "functions/hello"}),
    }
    for path, (view, kwargs) in cases.items():
        match = resolve(path)
        assert (match.func, match.kwargs) == (view, kwargs), path
        hot = [(v, p.match(path).groupdict()) for _prefix, p, v in HOT_ROUTES if p.match(path)]
        assert hot == [(view, kwargs)], path
        assert _route(path) == (view, kwargs), path
    for path in (
        "/api/v1/collections/posts/documents/a/b",
        "/api/v1/collections/posts",
        "/api/v1/batches",
        "/parse",
        "/parse/classes/X\n",  # the URLconf's `$` takes it; the hot pattern leaves it to the chain
    ):
        assert _route(path) is None, path


def test_the_chain_it_stands_in_for_is_the_configured_one():
    """A middleware added to or removed from settings must be mirrored in hot_routes (or it turns off)."""
    assert tuple(settings.MIDDLEWARE) == ("basalt.documents.api.hot_routes.HotRoutesMiddleware", *MIRRORED_MIDDLEWARE)
    assert HotRoutesMiddleware(lambda request: None)._enabled
    with override_settings(MIDDLEWARE=[*settings.MIDDLEWARE, "django.middleware.gzip.GZipMiddleware"]):
        assert not HotRoutesMiddleware(lambda request: None)._enabled
    with override_settings(BASALT_HOT_ROUTES=False):
        assert not HotRoutesMiddleware(lambda request: None)._enabled


def test_the_same_answers_through_the_hot_path_and_the_chain(project, signed_in):
    owner = console_client_for(project.owner)
    settings_url = f"/api/v1/manage/projects/{project.project.ref}/settings"
    assert owner.patch(settings_url, {"cors_origins": [ORIGIN]}, format="json").status_code == 200
    user = app_client(project, signed_in)
    doc = user.post("/api/v1/collections/posts/documents", {"title": "kept"}, format="json").json()
    base = "/api/v1/collections/posts/documents"
    requests = [
        ("get", f"{base}/{doc['id']}", {}),
        ("get", f"{base}/{doc['id']}", {"HTTP_IF_NONE_MATCH": '"1"'}),
        ("get", f"{base}/{doc['id']}", {"HTTP_ORIGIN": ORIGIN}),
        ("get", f"{base}/{doc['id']}", {"HTTP_ORIGIN": "https://elsewhere.example"}),
        ("get", f"{base}/nosuchdocument", {}),
        ("get", f"{base}?limit=5&order=-created_at", {}),
        ("get", f"{base}?where=%7Bbroken", {}),
        ("put", f"{base}/{doc['id']}", {}),
        ("patch", f"{base}/{doc['id']}", {"data": b"{not json", "content_type": "application/json"}),
        ("patch", f"{base}/{doc['id']}", {"data": b"{}", "content_type": "text/plain"}),
        ("patch", f"{base}/{doc['id']}", {"data": b"{}", "content_type": "application/json", "HTTP_IF_MATCH": '"9"'}),
        ("post", "/api/v1/collections/posts/query", {"data": b'{"limit": 1}', "content_type": "application/json"}),
        ("post", "/api/v1/collections/nosuch/query", {"data": b"{}", "content_type": "application/json"}),
        ("post", "/api/v1/batch", {"data": b'{"requests": 3}', "content_type": "application/json"}),
        ("get", f"{base}/{doc['id']}", {"token": "not-a-token"}),
        ("get", f"{base}/{doc['id']}", {"key": "pk_nosuchkey"}),
        ("get", f"{base}/{doc['id']}", {"key": ""}),
    ]

    def run_all() -> list:
        answers = []
        for verb, path, options in requests:
            extra = dict(options)
            # Credentials are the client's (the test client lets them win over a request's own headers).
            client = app_client(project, extra.pop("token", signed_in))
            if "key" in extra:
                client.credentials(HTTP_X_API_KEY=extra.pop("key"))
            answers.append(answer(getattr(client, verb)(path, **extra)))
        return answers

    with chain_forbidden():
        hot = run_all()
    with override_settings(BASALT_HOT_ROUTES=False):
        chained = run_all()
    for request, hot_answer, chain_answer in zip(requests, hot, chained, strict=True):
        assert hot_answer == chain_answer, request[:2]
    statuses = [status for status, _, _ in hot]
    assert statuses == [200, 304, 200, 200, 404, 200, 400, 405, 400, 415, 412, 200, 404, 400, 401, 401, 401]
    assert hot[2][1]["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in hot[3][1]
    for header in ("x-content-type-options", "x-frame-options", "referrer-policy", "vary", "content-length"):
        assert header in hot[0][1], header


def test_writes_give_the_same_answers_both_ways(project, signed_in):
    def create_update_delete(client) -> list:
        made = client.post("/api/v1/collections/posts/documents", {"title": "a", "score": 1}, format="json")
        path = f"/api/v1/collections/posts/documents/{made.json()['id']}"
        changed = client.patch(path, {"score": {"__op": "increment", "by": 2}}, format="json")
        gone = client.delete(path)
        again = client.get(path)
        return [
            (made.status_code, sorted(made.json()), sorted(answer(made)[1])),
            (changed.status_code, changed.json()["score"], changed["ETag"]),
            (gone.status_code, gone.content),
            (again.status_code, again.json()["error"]["code"]),
        ]

    with chain_forbidden():
        hot = create_update_delete(app_client(project, signed_in))
    with override_settings(BASALT_HOT_ROUTES=False):
        chained = create_update_delete(app_client(project, signed_in))
    assert hot == chained
    assert [row[0] for row in hot] == [201, 200, 204, 404]


def test_the_hot_path_leaves_the_chains_traces(project, signed_in):
    from basalt.logs import buffer
    from basalt.usage import counters

    user = app_client(project, signed_in)
    doc = user.post("/api/v1/collections/posts/documents", {"title": "t"}, format="json").json()
    path = f"/api/v1/collections/posts/documents/{doc['id']}"
    counted = REQUESTS.labels("documents", "GET", "200")
    before = counted._value.get()
    counters.push_buffered()
    buffer._buffer.clear()
    with chain_forbidden():
        response = user.get(path, HTTP_X_REQUEST_ID="trace-me-12345")
        minted = user.get(path)
    assert response.status_code == 200 and response["X-Request-Id"] == "trace-me-12345"
    assert len(minted["X-Request-Id"]) == 32
    assert counted._value.get() == before + 2
    lines = [line for line in buffer._buffer if line[3] == path]
    assert [(line[0], line[4], line[9]) for line in lines] == [
        (project.project.id, 200, "trace-me-12345"),
        (project.project.id, 200, minted["X-Request-Id"]),
    ]
    counted_usage = {key: amount for key, amount in counters._buffer.items() if key[0] == project.project.id}
    assert list(counted_usage.values()) == [2]


def test_requests_a_layer_treats_specially_go_through_the_chain(project, signed_in):
    user = app_client(project, signed_in)
    calls = []
    original = IdempotencyMiddleware.__call__

    def spy(self, request):
        calls.append(request.path)
        return original(self, request)

    with mock.patch.object(IdempotencyMiddleware, "__call__", spy):
        made = user.post("/api/v1/collections/posts/documents", {"title": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert made.status_code == 201, made.content
    assert calls == ["/api/v1/collections/posts/documents"]
    factory = RequestFactory()
    path = "/api/v1/collections/posts/documents"
    assert HotRoutesMiddleware._hot_view(factory.post(path, b"{}", content_type="application/json")) is not None
    special = [
        factory.post(path, b"{}", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"),
        factory.generic("POST", path, b"", HTTP_TRANSFER_ENCODING="chunked", CONTENT_LENGTH=""),
        factory.post(path, b"{}", content_type="application/json", CONTENT_LENGTH=str(10**9)),
        factory.get(path + "/" + "a" * 70_000),
        factory.get(path + "/a\x00b"),
        factory.get(path, SERVER_NAME="evil.example", HTTP_HOST="evil.example:80"),
    ]
    with override_settings(ALLOWED_HOSTS=["testserver"]):
        assert [HotRoutesMiddleware._hot_view(request) for request in special] == [None] * len(special)


def test_an_idempotent_retry_still_replays(project, signed_in):
    user = app_client(project, signed_in)
    path = "/api/v1/collections/posts/documents"
    first = user.post(path, {"title": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = user.post(path, {"title": "once"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]


def test_edge_refusals_keep_their_json_answers(project, signed_in):
    user = app_client(project, signed_in)
    long_path = "/api/v1/collections/posts/documents/" + "a" * 70_000
    too_long = user.get(long_path)
    assert too_long.status_code == 414 and too_long.json()["error"]["code"]
    with override_settings(ALLOWED_HOSTS=["basalt.example"]):
        bad_host = user.get("/api/v1/collections/posts/documents", HTTP_HOST="evil.example")
    assert bad_host.status_code == 400 and bad_host.json()["error"]
    nul = user.get("/api/v1/collections/posts/documents/a\x00b")
    assert nul.status_code == 404 and nul.json()["error"]["code"] == "not_found"
    big = user.post(
        "/api/v1/collections/posts/documents",
        data=b"{" + b" " * (settings.BASALT_MAX_JSON_BODY + 1) + b"}",
        content_type="application/json",
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"


def test_an_unexpected_failure_is_the_json_500_with_the_request_id(project, signed_in):
    user = app_client(project, signed_in)
    with chain_forbidden(), mock.patch("basalt.documents.services.get_document", side_effect=RuntimeError("boom")):
        response = user.get("/api/v1/collections/posts/documents/whatever", HTTP_X_REQUEST_ID="failing-request-1")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "internal_error" and error["details"] == {"request_id": "failing-request-1"}
    assert "boom" not in response.content.decode()

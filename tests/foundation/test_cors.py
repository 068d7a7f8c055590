"""A project's `cors_origins` let web apps on those origins call the data API from a browser.

The first test drives Debian's Chromium: a page served from another origin calls a live Basalt
with fetch (a JSON POST with X-API-Key needs a preflight). The others pin the headers with a
plain HTTP client against the same server.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.console.browser import launched_chromium
from tests.contract import live

pytestmark = pytest.mark.live
NOTES = {
    "name": "notes",
    "fields": {"title": {"type": "string"}},
    "permissions": {op: ["*"] for op in ("get", "find", "create")},
    "default_acl": "public",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[live.Server]:
    running = live.start(tmp_path_factory.mktemp("cors") / "data")
    yield running
    live.stop(running)


def set_origins(project: live.LiveProject, origins: list[str]) -> None:
    """As the project's owner, through the management API (as the console does)."""
    response = httpx.patch(
        f"{project.url}/api/v1/manage/projects/{project.ref}/settings",
        json={"cors_origins": origins},
        headers={"Authorization": f"Bearer {project.owner_token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text


def make_project(url: str, name: str) -> live.LiveProject:
    project = live.make_project(url, name)
    live.create_collection(project, NOTES)
    return project


@pytest.fixture(scope="module")
def app_origin() -> Iterator[str]:
    """A web app on another origin (another port of 127.0.0.1): one blank page."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<!doctype html><title>web app</title><p>app</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


FETCH = """async ([url, key, body]) => {
  try {
    const init = {headers: {'X-API-Key': key}};
    if (body) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(url, init);
    return {status: response.status, requestId: response.headers.get('X-Request-Id'), body: await response.json()};
  } catch (error) {
    return {blocked: String(error)};
  }
}"""


@pytest.mark.browser
def test_a_page_on_a_listed_origin_calls_the_api_from_a_real_browser(server, app_origin, monkeypatch):
    allowed = make_project(server.url, "Listed")
    other = make_project(server.url, "Not listed")
    documents = f"{server.url}/api/v1/collections/notes/documents"
    with launched_chromium(monkeypatch) as browser:
        page = browser.new_page()
        page.goto(app_origin + "/")
        # No project lists the origin yet: the browser refuses (preflight and simple request alike).
        assert "blocked" in page.evaluate(FETCH, [documents, allowed.publishable, {"title": "early"}])
        assert "blocked" in page.evaluate(FETCH, [documents, allowed.publishable, None])

        set_origins(allowed, ["https://elsewhere.example", app_origin])
        created = page.evaluate(FETCH, [documents, allowed.publishable, {"title": "from the browser"}])
        assert created.get("status") == 201, created
        assert created["body"]["title"] == "from the browser"
        assert created["requestId"], "X-Request-Id must be readable by the page"
        listed = page.evaluate(FETCH, [documents, allowed.publishable, None])
        assert listed.get("status") == 200, listed
        assert [d["title"] for d in listed["body"]["results"]] == ["from the browser"]
        # An error answer is readable too, with its JSON and request id.
        missing = page.evaluate(FETCH, [documents + "/nope", allowed.publishable, None])
        assert missing.get("status") == 404 and missing["body"]["error"]["code"] == "not_found", missing

        # Another project's key from the same page: its own list decides, and it lists nothing.
        assert "blocked" in page.evaluate(FETCH, [documents, other.publishable, None])


def preflight(url: str, origin: str, method: str = "POST") -> httpx.Response:
    return httpx.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type,x-api-key",
        },
        timeout=30,
    )


def test_preflight_and_response_headers_follow_the_project_list(server):
    project = make_project(server.url, "Headers")
    documents = f"{server.url}/api/v1/collections/notes/documents"
    origin = "https://shop.example"
    refused = preflight(documents, origin)
    assert "access-control-allow-origin" not in refused.headers
    assert refused.headers.get("x-request-id")

    set_origins(project, [origin])
    granted = preflight(documents, origin)
    assert granted.status_code in (200, 204)
    assert granted.headers["access-control-allow-origin"] == origin
    allowed_headers = {h.strip().lower() for h in granted.headers["access-control-allow-headers"].split(",")}
    assert {"x-api-key", "content-type", "authorization", "if-match"} <= allowed_headers
    assert "POST" in granted.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in granted.headers

    response = httpx.get(documents, headers={"Origin": origin, "X-API-Key": project.publishable}, timeout=30)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert "origin" in response.headers["vary"].lower()
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
    stranger = httpx.get(
        documents, headers={"Origin": "https://evil.example", "X-API-Key": project.publishable}, timeout=30
    )
    assert "access-control-allow-origin" not in stranger.headers

    # The console's management API is same-origin only, whatever a project lists.
    manage = preflight(f"{server.url}/api/v1/manage/projects", origin)
    assert "access-control-allow-origin" not in manage.headers

    set_origins(project, [])
    assert "access-control-allow-origin" not in preflight(documents, origin).headers


def test_a_project_listing_star_allows_any_origin_on_its_own_key_only(server):
    star = make_project(server.url, "Star")
    closed = make_project(server.url, "Closed")
    set_origins(star, ["*"])
    documents = f"{server.url}/api/v1/collections/notes/documents"
    origin = f"https://random-{os.getpid()}.example"
    assert preflight(documents, origin).headers.get("access-control-allow-origin") == origin
    open_answer = httpx.get(documents, headers={"Origin": origin, "X-API-Key": star.publishable}, timeout=30)
    assert open_answer.headers.get("access-control-allow-origin") == origin
    closed_answer = httpx.get(documents, headers={"Origin": origin, "X-API-Key": closed.publishable}, timeout=30)
    assert "access-control-allow-origin" not in closed_answer.headers
    set_origins(star, [])

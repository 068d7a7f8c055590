"""The console's data browser updates live in a real Chromium: rows appear, change and disappear as
others write through the API, over the realtime SSE stream authenticated by the console session."""

from __future__ import annotations

import httpx
import pytest

from tests.console.browser import launched_chromium, swap_to

from .conftest import OPEN, PASSWORD, App, make_live_project

pytestmark = [pytest.mark.live, pytest.mark.browser]

POSTS = {"name": "posts", "fields": {"title": {"type": "string"}}, "permissions": OPEN, "default_acl": "public"}


@pytest.fixture
def browser_page(server, monkeypatch):
    with launched_chromium(monkeypatch) as browser:
        context = browser.new_context(base_url=server.url, viewport={"width": 1360, "height": 900})
        context.set_default_timeout(20_000)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and page.errors.append(msg.text))
        yield page


def _sign_in(page, project) -> None:
    page.goto("/console/signin")
    page.get_by_label("Email").fill(project.console_email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def test_the_data_browser_shows_rows_appear_change_and_disappear_live(server, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    project = make_live_project(server.url)
    app = App(project)
    app.collection(POSTS)

    _sign_in(page, project)
    assert "Sign in to manage" not in page.locator("main").inner_text()
    page.goto(f"/console/p/{project.ref}/data/posts")
    documents = page.locator("#documents")
    expect(documents).to_have_attribute("data-live", "on")
    expect(page.locator("#live-status")).to_have_text("Live")

    rows = page.locator("#documents tbody tr")
    created = app.ok("POST", "/collections/posts/documents", {"title": "first light"}, 201, key=app.sk)
    expect(rows.filter(has_text="first light")).to_have_count(1)
    expect(page.locator(".page-head p")).to_contain_text("1 document")

    with httpx.Client(base_url=server.url, headers={"X-API-Key": app.sk}, timeout=30) as http:
        assert http.post("/api/v1/collections/posts/documents", json={"title": "second"}).status_code == 201
        expect(rows.filter(has_text="second")).to_have_count(1)
        patched = http.patch(f"/api/v1/collections/posts/documents/{created['id']}", json={"title": "renamed"})
        assert patched.status_code == 200
        expect(rows.filter(has_text="renamed")).to_have_count(1)
        expect(rows.filter(has_text="first light")).to_have_count(0)
        assert http.delete(f"/api/v1/collections/posts/documents/{created['id']}").status_code == 204
        expect(rows.filter(has_text="renamed")).to_have_count(0)
        expect(rows.filter(has_text="second")).to_have_count(1)
    assert page.errors == []


def test_the_console_stream_needs_a_console_session_of_a_member(server):
    """No session: 401. Another account's session: the project is not found for it (404)."""
    project = make_live_project(server.url)
    App(project).collection(POSTS)
    url = f"{server.url}/api/v1/realtime/console/{project.ref}/posts"
    with httpx.Client(timeout=10) as http:
        response = http.get(url)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"
    stranger = make_live_project(server.url)
    with httpx.Client(base_url=server.url, timeout=10, follow_redirects=True) as http:
        page = http.get("/console/signin")
        token = page.cookies.get("csrftoken") or http.cookies.get("csrftoken")
        signed_in = http.post(
            "/console/signin",
            data={"email": stranger.console_email, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{server.url}/console/signin"},
        )
        assert signed_in.status_code == 200 and "sessionid" in http.cookies
        response = http.get(url)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


# Counts the EventSource streams and WebSockets the page opens and closes (before any page script).
COUNT_CONNECTIONS = """(() => {
  window.__opened = {};
  ["EventSource", "WebSocket"].forEach(name => {
    const Real = window[name];
    const count = window.__opened[name] = {opened: 0, closed: 0};
    window[name] = function (url, options) {
      const connection = new Real(url, options);
      count.opened += 1;
      const close = connection.close.bind(connection);
      connection.close = (...args) => {
        if (!connection.__closed) { connection.__closed = true; count.closed += 1; }
        close(...args);
      };
      return connection;
    };
    window[name].prototype = Real.prototype;
    Object.assign(window[name], {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: Real.CLOSED});
  });
})();"""


def test_a_data_page_swapped_in_by_htmx_twice_is_live_with_one_stream(server, browser_page):
    """Reached through boosted links (htmx swaps, no full load), twice, the data browser follows its
    collection over one stream: the first page's stream is closed when the second replaces it."""
    from playwright.sync_api import expect

    page = browser_page
    page.add_init_script(COUNT_CONNECTIONS)
    project = make_live_project(server.url)
    app = App(project)
    app.collection(POSTS)
    _sign_in(page, project)
    page.goto(f"/console/p/{project.ref}/")
    for _ in range(2):
        swap_to(page, f"/console/p/{project.ref}/data/posts")
        expect(page.locator("#documents")).to_have_attribute("data-live", "on")
    streams = page.evaluate("window.__opened.EventSource")
    assert streams == {"opened": 2, "closed": 1}, streams  # the first page's, closed as it left
    app.ok("POST", "/collections/posts/documents", {"title": "after two swaps"}, 201, key=app.sk)
    expect(page.locator("#documents tbody tr").filter(has_text="after two swaps")).to_have_count(1)
    streams = page.evaluate("window.__opened.EventSource")
    assert streams["opened"] - streams["closed"] == 1, streams
    assert page.errors == [], page.errors


def test_the_realtime_test_client_on_a_swapped_in_page_subscribes_and_closes_when_left(server, browser_page):
    """The realtime page reached through a boosted link subscribes from the browser; its socket is
    closed when another page is swapped in over it."""
    from playwright.sync_api import expect

    page = browser_page
    page.add_init_script(COUNT_CONNECTIONS)
    project = make_live_project(server.url)
    App(project).collection(POSTS)
    _sign_in(page, project)
    page.goto(f"/console/p/{project.ref}/")
    swap_to(page, f"/console/p/{project.ref}/realtime")
    page.get_by_label("Publishable key").fill(project.publishable)
    page.get_by_label("Collection").fill("posts")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#rt-log")).to_contain_text("subscribed")
    assert page.evaluate("window.__opened.WebSocket") == {"opened": 1, "closed": 0}
    swap_to(page, f"/console/p/{project.ref}/realtime")
    assert page.evaluate("window.__opened.WebSocket") == {"opened": 1, "closed": 1}
    assert page.errors == [], page.errors

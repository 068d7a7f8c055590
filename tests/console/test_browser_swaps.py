"""Page scripts in Chromium on pages htmx swaps in (boosted links and forms), not only on a full load:
htmx does not run a swapped page's script tags (allowScriptTags is off for the CSP), so each page
script must start on swapped-in content too, and only once for a page swapped in twice."""

from __future__ import annotations

import pytest

from tests.console.browser import swap_to
from tests.console.test_browser_grid import _context, _sign_in, chromium, world  # noqa: F401 (fixtures)
from tests.files.images import png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _signed_in(chromium, live_server, world):  # noqa: F811
    context, page = _context(chromium, live_server)
    _sign_in(page, "grid@example.com")
    page.goto(f"/console/p/{world['ref']}/")
    return context, page


def test_the_grid_works_on_a_data_page_swapped_in_twice(chromium, live_server, world):  # noqa: F811
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, live_server, world)
    for _ in range(2):
        swap_to(page, f"/console/p/{world['ref']}/data/books")
        page.locator("#documents").wait_for()
    page.locator("[data-row-select]").first.check()
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    expect(page.get_by_role("button", name="Delete selected")).to_be_enabled()
    page.locator("[data-col-chooser] summary").click()
    page.locator('[data-col-toggle="note"]').uncheck()
    expect(page.locator('th[data-col="note"]')).to_be_hidden()
    assert page.console_errors == [], page.console_errors
    context.close()


def test_the_realtime_test_client_works_on_a_page_swapped_in_twice(chromium, live_server, world):  # noqa: F811
    """The test client answers a bad `where` in the page (its script ran, once), and the form is not
    submitted to the server as a boosted GET with the key in its URL."""
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, live_server, world)
    for _ in range(2):
        swap_to(page, f"/console/p/{world['ref']}/realtime")
        page.locator("#rt-test").wait_for()
    url = page.url
    page.get_by_label("Publishable key").fill("pk_test")
    page.get_by_label("Collection").fill("books")
    page.get_by_label("Where (JSON)").fill("{")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#rt-log")).to_contain_text("where is not JSON")
    assert page.locator("#rt-log").inner_text().count("where is not JSON") == 1
    assert page.url == url and "pk_test" not in page.url
    assert page.console_errors == [], page.console_errors
    context.close()


def test_the_api_reference_renders_on_a_page_swapped_in_twice(chromium, live_server, world):  # noqa: F811
    context, page = _signed_in(chromium, live_server, world)
    for _ in range(2):
        swap_to(page, f"/console/p/{world['ref']}/reference")
        page.locator("#swagger-ui .opblock").first.wait_for(timeout=30_000)
    assert page.locator("#swagger-ui .swagger-ui").count() == 1
    assert page.locator("script[src*='swagger-ui-bundle']").count() == 1
    assert page.locator("link[href*='swagger-ui.css']").count() == 1
    assert page.console_errors == [], page.console_errors
    context.close()


def test_files_copy_button_works_after_acl_saves_swap_the_page_in(chromium, live_server, world, tmp_path):  # noqa: F811
    """Saving an ACL (a boosted form) swaps the files page in; its copy button still asks for a
    signed URL, once per click after two swaps."""
    context, page = _signed_in(chromium, live_server, world)
    page.goto(f"/console/p/{world['ref']}/files")
    page.wait_for_load_state("load")
    image = tmp_path / "red.png"
    image.write_bytes(png(40, 30))
    page.set_input_files("#files-input", str(image))
    row = page.locator("#files-table tr", has_text="red.png")
    row.wait_for(timeout=30_000)
    for acl in ('{"*": {"read": true}}', "{}"):
        page.evaluate("window.__sameDocument = true")
        # Marks this page's table, so the wait below is for the page htmx swaps in.
        page.locator("#files-table").evaluate("table => { table.dataset.before = 'swap'; }")
        row.get_by_label("ACL of red.png").fill(acl)
        row.get_by_role("button", name="Save ACL").click()
        page.locator("#files-table[data-before]").wait_for(state="detached")
        row.wait_for()
        assert page.evaluate("window.__sameDocument") is True
    asked: list[str] = []
    page.on("request", lambda r: r.method == "POST" and r.url.rstrip("/").endswith("/url") and asked.append(r.url))
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.rstrip("/").endswith("/url")):
        row.get_by_role("button", name="Copy signed URL").click()
    row.get_by_role("button", name="Copied").wait_for()
    assert row.get_by_role("button", name="Copied").get_attribute("data-signed")
    assert len(asked) == 1, asked
    assert page.console_errors == [], page.console_errors
    context.close()


def test_the_grid_works_on_a_data_page_restored_by_the_back_button(chromium, live_server, world):  # noqa: F811
    """htmx restores a page left through a boosted link by swapping it in again (no history cache)."""
    from playwright.sync_api import expect

    context, page = _signed_in(chromium, live_server, world)
    page.goto(f"/console/p/{world['ref']}/data/books")
    swap_to(page, f"/console/p/{world['ref']}/realtime")
    page.evaluate("window.__sameDocument = true")
    page.go_back()
    page.locator("#documents").wait_for()
    page.locator("[data-row-select]").first.check()
    expect(page.locator("[data-selected-count]")).to_have_text("1 selected")
    assert page.evaluate("window.__sameDocument") is True
    assert page.console_errors == [], page.console_errors
    context.close()

"""Launch Debian's Chromium through Playwright; shared by the console browser tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# Flags that keep Chromium off the (closed) network and working as root in CI.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


def require_browser() -> None:
    """Skip without Chromium on a workstation; under CI=true a missing browser is a failure."""
    in_ci = os.environ.get("CI", "").lower() == "true"
    if not Path(CHROMIUM).exists():
        if in_ci:
            pytest.fail(f"{CHROMIUM} is missing under CI=true; .ci/steps/browser.sh should install it")
        pytest.skip(f"{CHROMIUM} not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if in_ci:
            pytest.fail("the playwright package is missing under CI=true")
        pytest.skip("playwright not installed")


@contextmanager
def launched_chromium(monkeypatch) -> Iterator:
    """Chromium through Playwright's sync API, for one test or fixture.

    Playwright keeps an asyncio loop running in this thread, so while it runs Django keeps this
    thread's database connections in a context variable (asgiref's Local under a running loop), not
    in the thread's own slot. Django's teardown only sees the thread's slot once the loop stops: a
    connection the test's ORM calls opened stayed checked out for the rest of the run and PostgreSQL
    could not drop the test database. They are closed here, while the loop still runs.
    """
    require_browser()
    # The test's own ORM calls are synchronous; Django's async-safety guard would be a false alarm.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            try:
                browser.close()
            finally:
                connections.close_all()


# Stands for a boosted link of the console (the sidebar's, a breadcrumb) to any page: htmx swaps
# the answered page into the body, as for every boosted link and form.
ADD_BOOSTED_LINK = """path => {
  const link = document.createElement("a");
  link.href = path; link.id = "swap-link"; link.textContent = "swap";
  document.querySelector("main").appendChild(link);
  window.htmx.process(link);
}"""


def swap_to(page, path: str) -> None:
    """Open `path` through a boosted link and check that htmx swapped it in (no full page load)."""
    page.evaluate("window.__sameDocument = true")
    page.evaluate(ADD_BOOSTED_LINK, path)
    with page.expect_response(lambda r: r.url.split("?")[0].rstrip("/").endswith(path.rstrip("/"))):
        page.locator("#swap-link").click()
    page.locator("#swap-link").wait_for(state="detached")
    assert page.evaluate("window.__sameDocument") is True


class Shots:
    """Numbered full-page screenshots of one scenario, kept as test artifacts."""

    def __init__(self, page, scenario: str):
        self.page = page
        self.dir = ARTIFACTS / scenario
        self.dir.mkdir(parents=True, exist_ok=True)
        for old in self.dir.glob("*.png"):
            old.unlink()
        self.n = 0

    def __call__(self, name: str) -> Path:
        self.n += 1
        path = self.dir / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

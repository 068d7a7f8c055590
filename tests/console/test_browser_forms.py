"""Browser journeys for what only a browser shows: reloading after htmx forms, two tabs editing
the same document, and the quickstart copied from the page after the one-click sample collection."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.console.browser import Shots
from tests.console.test_browser import chromium, page  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough passphrase"


def _project(page, django_user_model, email: str, name: str) -> str:  # noqa: F811
    django_user_model.objects.create_user(email, PASSWORD)
    page.goto("/console/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Project name").fill(name)
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name=name, exact=True).wait_for()
    return page.locator("#project-ref").inner_text()


def test_reloading_after_console_forms_lands_on_their_pages(page, django_user_model):  # noqa: F811
    shot = Shots(page, "reload-after-forms")
    ref = _project(page, django_user_model, "reload@example.com", "Reloads")
    assert page.url.rstrip("/").endswith(f"/console/p/{ref}")  # not /console/projects

    page.get_by_label("Kind").select_option("secret")
    page.get_by_role("button", name="Create key").click()
    page.get_by_text("Your new secret key").wait_for()
    assert "/keys" not in page.url
    page.reload()
    page.get_by_role("heading", name="API keys").wait_for()
    assert "Your new secret key" not in page.content()  # shown once, and the reload is a page
    shot("reloaded-after-key")

    page.goto(f"/console/p/{ref}/schema")
    page.get_by_label("Name", exact=True).fill("notes")
    page.get_by_role("button", name="Create collection").click()
    page.get_by_role("heading", name="Indexes").wait_for()
    page.get_by_role("button", name="Add index").click()  # no fields: an inline error
    page.get_by_text("Name at least one field").wait_for()
    assert "/indexes" not in page.url
    page.reload()
    page.get_by_role("heading", name="Indexes").wait_for()

    page.goto(f"/console/p/{ref}/settings")
    page.get_by_label("Allowed origins").fill("not an origin")
    page.get_by_role("button", name="Save origins").click()
    page.get_by_text("Not an origin: not an origin").wait_for()
    page.reload()
    page.get_by_role("heading", name="CORS origins").wait_for()

    # The action address itself (a bookmark, an old tab): a GET lands on the page too.
    response = page.goto(f"/console/p/{ref}/schema/notes/indexes")
    assert response.status == 200 and page.url.endswith("/schema/notes#indexes")
    shot("action-address-lands-on-page")
    assert page.console_errors == [], "\n".join(page.console_errors)


def test_two_tabs_editing_one_document_see_a_conflict_and_choose(page, django_user_model):  # noqa: F811
    shot = Shots(page, "two-tabs")
    ref = _project(page, django_user_model, "tabs@example.com", "Tabs")
    page.goto(f"/console/p/{ref}/schema")
    page.get_by_label("Name", exact=True).fill("notes")
    page.get_by_role("button", name="Create collection").click()
    page.get_by_label("Field name").fill("title")
    page.get_by_role("button", name="Save field").click()
    page.locator("#fields td strong", has_text="title").wait_for()
    page.goto(f"/console/p/{ref}/data/notes/new")
    page.get_by_label("title").fill("first")
    page.get_by_role("button", name="Create document").click()
    page.get_by_text("created.").wait_for()
    doc_url = page.url

    other = page.context.new_page()
    other.goto(doc_url)
    other.get_by_label("title").fill("from the other tab")
    other.get_by_role("button", name="Save changes").click()
    other.get_by_text("Document saved.").wait_for()

    page.get_by_label("title").fill("from this tab")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Changed since you opened this page").wait_for()
    assert "from the other tab" in page.locator("[data-conflict] pre").inner_text()
    assert page.get_by_label("title").input_value() == "from this tab"
    shot("conflict")
    page.get_by_role("button", name="Overwrite with my version").click()
    page.get_by_text("Document saved.").wait_for()
    assert '"title": "from this tab"' in page.locator("#raw-json").inner_text()

    # The other tab is stale now: it reloads instead of overwriting.
    other.get_by_label("title").fill("late edit")
    other.get_by_role("button", name="Save changes").click()
    other.get_by_text("Changed since you opened this page").wait_for()
    other.get_by_role("link", name="Reload (discard mine)").click()
    other.locator("[data-conflict]").wait_for(state="detached")
    assert other.get_by_label("title").input_value() == "from this tab"

    # Deleted in one tab, saved in the other: said inside the project, typed values kept.
    page.get_by_role("button", name="Delete document").click()
    # Confirmed in the page's own dialog (issue 15), not the browser's confirm().
    page.locator("dialog.confirm-dialog[open]").get_by_role("button", name="Confirm").click()
    page.get_by_text("deleted.").wait_for()
    other.get_by_label("title").fill("too late")
    other.get_by_role("button", name="Save changes").click()
    other.locator("#gone").wait_for()
    assert other.get_by_label("title").input_value() == "too late"
    assert other.get_by_role("link", name="Tabs").first.is_visible()  # still inside the project
    Shots(other, "two-tabs-deleted")("deleted-elsewhere")
    assert page.console_errors == [], "\n".join(page.console_errors)


def test_quickstart_copied_after_the_sample_collection_runs_as_pasted(page, django_user_model):  # noqa: F811
    shot = Shots(page, "quickstart")
    _project(page, django_user_model, "quick@example.com", "Quick")
    key = page.locator("#new-key-value").inner_text()
    page.get_by_role("button", name="Create the sample “notes” collection").click()
    page.get_by_text("Collection “notes” created").wait_for()
    # The key shown once is still on the page, and the new snippets hold it.
    assert page.locator("#new-key-value").inner_text() == key
    assert page.locator("#quickstart [data-key-filled]").is_visible()
    page.locator("#quickstart [data-copy=code-curl-1]").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert key in copied and "collections/notes/documents" in copied and "auth/signup" in copied
    shot("sample-created")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", copied], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and '"error"' not in done.stdout, done.stdout + done.stderr
    assert re.search(r'"title": ?"Hello, Basalt"', done.stdout)

    page.get_by_role("tab", name="Python").click()
    python = page.locator("#code-python-1").inner_text()
    assert "from basalt_sdk import Client" in python and key in python
    assert page.console_errors == [], "\n".join(page.console_errors)

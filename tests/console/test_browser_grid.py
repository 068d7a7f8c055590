"""Console second edition in Chromium: the data grid, filters, paging, column chooser, request
logs, the outbox and dark mode, in one journey; screenshots at laptop and phone width, both themes."""

from __future__ import annotations

import urllib.request

import pytest

from tests.console.browser import Shots
from tests.console.test_browser import REPORT_CSP_VIOLATIONS, _keep_error, chromium  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough passphrase"


def _context(browser, live_server, width=1360, height=900):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}, color_scheme="light"
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: _keep_error(errors, msg))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    return context, page


def _sign_in(page, email: str) -> None:
    page.goto("/console/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects", exact=True).wait_for()


def _api(url: str, key: str, request_id: str) -> int:
    request = urllib.request.Request(url, headers={"X-API-Key": key, "X-Request-Id": request_id})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback test server)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def world(django_user_model, settings, tmp_path):
    from basalt.documents import catalog
    from basalt.documents import services as documents
    from basalt.projects import services
    from console.caller import console_caller

    # The embedded default's mail: no server, every mail in the Outbox.
    settings.EMAIL_BACKEND = "basalt.logs.mail.OutboxBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    owner = django_user_model.objects.create_user("grid@example.com", PASSWORD)
    project = services.create_project(owner, "Bookshelf with a rather long project name that must not break")
    catalog.create_collection(
        project,
        {
            "name": "books",
            "fields": {
                "title": {"type": "string"},
                "pages": {"type": "number"},
                "read": {"type": "boolean"},
                "tags": {"type": "array"},
                "note": {"type": "string"},
            },
        },
    )
    caller = console_caller(project, owner.pk)
    for n in range(30):
        documents.create_document(
            caller,
            "books",
            {
                "title": f"Book {n:02d}",
                "pages": 100 + n,
                "read": n % 2 == 0,
                "tags": ["fiction", "classic", "long"][: n % 4],
                "note": "A very long note that goes on and on to show the ellipsis in a cell " * 2,
            },
        )
    secret = services.create_key(owner, project, "secret").raw
    return {"ref": project.ref, "secret": secret, "caller": caller}


def test_grid_logs_outbox_and_dark_mode_journey(chromium, live_server, world):  # noqa: F811 (fixture)
    from basalt.documents.models import Document

    context, page = _context(chromium, live_server)
    shot = Shots(page, "grid-journey")
    _sign_in(page, "grid@example.com")
    ref = world["ref"]
    grid_url = f"/console/p/{ref}/data/books?order=title"
    page.goto(grid_url)
    page.locator("#page-of").wait_for()
    assert page.locator("#page-of").inner_text() == "Page 1 of 2"
    shot("grid-light-laptop")

    # Inline edit of a text cell: the field's own editor, saved with Enter.
    first = page.locator("tbody tr").first
    doc_id = first.get_attribute("data-doc")
    first.locator('td[data-col="title"] .cell-edit-btn').click()
    editor = first.locator('td[data-col="title"] input[name="title"]')
    editor.fill("Edited inline")
    editor.press("Enter")
    first.locator('td[data-col="title"]', has_text="Edited inline").locator(".cell-edit-btn").wait_for()
    assert Document.objects.get(id=doc_id).data["title"] == "Edited inline"

    # A boolean is a toggle.
    was = Document.objects.get(id=doc_id).data["read"]
    first.locator('td[data-col="read"] .cell-edit-btn').click()
    toggle = first.locator('td[data-col="read"] input[type=checkbox]')
    toggle.set_checked(not was)
    first.locator('td[data-col="read"]').get_by_role("button", name="Save").click()
    first.locator(f'td[data-col="read"] .tick-{"no" if was else "yes"}').wait_for()
    assert Document.objects.get(id=doc_id).data["read"] is (not was)

    # Stale edit: this tab opens the editor, a second browser context saves first.
    first.locator('td[data-col="pages"] .cell-edit-btn').click()
    mine = first.locator('td[data-col="pages"] input[name="pages"]')
    mine.wait_for()
    other_context, other = _context(chromium, live_server)
    _sign_in(other, "grid@example.com")
    other.goto(f"/console/p/{ref}/data/books?order=-title")  # "Edited inline" sorts last by title
    row = other.locator(f'tr[data-doc="{doc_id}"]')
    row.locator('td[data-col="pages"] .cell-edit-btn').click()
    row.locator('td[data-col="pages"] input[name="pages"]').fill("777")
    row.locator('td[data-col="pages"] input[name="pages"]').press("Enter")
    row.locator('td[data-col="pages"]', has_text="777").locator(".cell-edit-btn").wait_for()
    assert other.console_errors == [], "\n".join(other.console_errors)
    other_context.close()
    mine.fill("999")
    mine.press("Enter")
    conflict = first.locator('td[data-col="pages"] [data-conflict]')
    conflict.wait_for()
    assert "Changed since you opened it" in conflict.inner_text() and "777" in conflict.inner_text()
    assert Document.objects.get(id=doc_id).data["pages"] == 777
    shot("stale-edit-conflict")
    conflict.get_by_role("button", name="Overwrite").click()
    first.locator('td[data-col="pages"]', has_text="999").locator(".cell-edit-btn").wait_for()
    assert Document.objects.get(id=doc_id).data["pages"] == 999

    # An OR filter: title = "Edited inline" OR pages ≥ 128.
    page.goto(grid_url)
    page.locator("#f-0-new").select_option("title")
    page.locator("#v-0-new").fill("Edited inline")
    page.locator("#f-or").select_option("pages")
    page.locator("#op-or").select_option("≥")
    page.locator("#v-or").fill("128")
    page.get_by_role("button", name="Apply filter").click()
    page.get_by_text("Or match all of").wait_for()
    where = page.locator("#where-json").inner_text()
    assert '"$or"' in where and "Edited inline" in where
    titles = sorted(page.locator('tbody td[data-col="title"] .ellipsis').all_inner_texts())
    assert titles == ["Book 28", "Book 29", "Edited inline"]
    shot("or-filter")
    # Saved for the team: the view is a link that brings the same filter back on a fresh page.
    page.get_by_label("View name").fill("Long or edited")
    page.get_by_role("button", name="Save view").click()
    page.locator(".view-chip a", has_text="Long or edited").wait_for()
    page.goto(grid_url)
    page.locator(".view-chip a", has_text="Long or edited").click()
    page.get_by_text("Or match all of").wait_for()
    assert sorted(page.locator('tbody td[data-col="title"] .ellipsis').all_inner_texts()) == titles

    # Paging back and forth.
    page.goto(grid_url)
    page.get_by_role("link", name="Next page").click()
    page.locator("#page-of", has_text="Page 2 of 2").wait_for()
    assert page.locator("tbody tr").count() == 5
    page.get_by_role("link", name="Previous").click()
    page.locator("#page-of", has_text="Page 1 of 2").wait_for()
    assert page.locator("tbody tr").count() == 25

    # Hide a column; it stays hidden after a reload.
    page.locator("[data-col-chooser] summary").click()
    page.locator('[data-col-toggle="note"]').uncheck()
    assert page.locator('th[data-col="note"]').is_hidden()
    page.reload()
    page.locator("#page-of").wait_for()
    assert page.locator('th[data-col="note"]').is_hidden()
    assert page.locator('tbody td[data-col="note"]').first.is_hidden()
    assert page.locator('th[data-col="pages"]').is_visible()

    # Read one request in the logs by its request id.
    api = f"{live_server.url}/api/v1/collections/books/documents"
    assert _api(f"{api}?limit=2", world["secret"], "journey-req-42") == 200
    assert _api(f"{api}/nope", world["secret"], "journey-req-43") == 404
    page.goto(f"/console/p/{ref}/logs")
    page.get_by_label("Request id").fill("journey-req-42")
    page.get_by_role("button", name="Show").click()
    line = page.locator('tr[data-request-id="journey-req-42"]')
    line.wait_for()
    assert "GET" in line.inner_text() and "200" in line.inner_text()
    assert page.locator('tr[data-request-id="journey-req-43"]').count() == 0
    shot("request-logs-by-id")

    # Invite someone; with no mail server the page says where the mail went; open it from the Outbox.
    page.goto(f"/console/p/{ref}/members")
    page.get_by_label("Email to invite").fill("reader@example.com")
    page.locator("#invitations").get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to reader@example.com").wait_for()
    assert "No mail server configured: see Outbox" in page.locator(".flash-stack").inner_text()
    page.goto(f"/console/p/{ref}/outbox")
    page.locator("details.mail summary").first.click()
    shot("outbox")
    link = page.locator("a.mail-link").first
    assert "/console/invite/" in link.get_attribute("href")
    link.click()
    page.get_by_role("heading", name="Join Bookshelf", exact=False).wait_for()

    # Dark mode: the toggle, remembered across pages; screenshots in both themes at two widths.
    page.goto(grid_url)
    page.locator("#page-of").wait_for()
    page.locator("[data-theme-toggle]").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    page.reload()
    page.locator("#page-of").wait_for()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 17, 23)"
    shot("grid-dark-laptop")
    page.goto(f"/console/p/{ref}/logs")
    shot("logs-dark-laptop")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(grid_url)
    page.locator("#page-of").wait_for()
    shot("grid-dark-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("[data-theme-toggle]").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "light"
    shot("grid-light-phone")
    page.goto(f"/console/p/{ref}/logs")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot("logs-light-phone")
    page.goto("/console/projects")
    shot("projects-light-phone")
    assert page.console_errors == [], "\n".join(page.console_errors)
    context.close()


def test_in_page_confirmation_replaces_the_browser_dialog(chromium, live_server, world):  # noqa: F811 (fixture)
    """Bulk delete and hx-confirm ask in a <dialog>; an edited form warns before leaving; the API
    reference keeps a pasted key."""
    from basalt.documents.models import Document

    context, page = _context(chromium, live_server)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _sign_in(page, "grid@example.com")
    page.goto(f"/console/p/{world['ref']}/data/books?order=title&size=10")
    page.locator("#page-of").wait_for()
    boxes = page.locator("[data-row-select]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert page.locator("[data-selected-count]").inner_text() == "2 selected"
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.locator("dialog.confirm-dialog[open]")
    dialog.wait_for()
    Shots(page, "confirm-dialog")("bulk-delete-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    assert Document.objects.count() == 30
    page.get_by_role("button", name="Delete selected").click()
    page.locator("dialog.confirm-dialog[open]").get_by_role("button", name="Delete selected").click()
    page.get_by_text("2 documents deleted.").wait_for()
    assert Document.objects.filter(collection__name="books").count() == 28

    # hx-confirm (revoking a key) asks in the page too.
    page.goto(f"/console/p/{world['ref']}")
    page.locator("#keys").get_by_role("button", name="Revoke").first.click()
    asked = page.locator("dialog.confirm-dialog[open]")
    asked.wait_for()
    assert "Revoke key" in asked.inner_text()
    asked.get_by_role("button", name="Cancel").click()

    # An edited form warns before the page is left; Cancel stays, Leave goes.
    page.goto(f"/console/p/{world['ref']}/settings")
    page.get_by_label("Allowed origins").fill("https://typed.example.com")
    page.locator(".sidebar").get_by_role("link", name="Usage").click()
    leave = page.locator("dialog.confirm-dialog[open]")
    leave.wait_for()
    assert "unsaved changes" in leave.inner_text()
    leave.get_by_role("button", name="Cancel").click()
    assert page.get_by_label("Allowed origins").input_value() == "https://typed.example.com"
    page.locator(".sidebar").get_by_role("link", name="Usage").click()
    page.locator("dialog.confirm-dialog[open]").get_by_role("button", name="Leave").click()
    page.get_by_role("heading", name="Usage", exact=True).wait_for()

    # The API reference keeps a pasted key for "Try it out" in this tab.
    page.goto(f"/console/p/{world['ref']}/reference")
    page.get_by_label("Key for “Try it out” (kept in this tab only)").fill(world["secret"])
    page.get_by_label("Key for “Try it out” (kept in this tab only)").dispatch_event("change")
    page.reload()
    page.locator(".opblock-tag", has_text="Documents · books").first.wait_for()
    assert page.get_by_label("Key for “Try it out” (kept in this tab only)").input_value() == world["secret"]
    Shots(page, "reference")("grouped-by-area")

    assert dialogs == []  # the browser's own confirm() never appeared
    assert page.console_errors == [], "\n".join(page.console_errors)
    context.close()

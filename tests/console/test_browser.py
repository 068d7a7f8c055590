"""End-to-end console journeys in a real Chromium against a live Basalt server."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request

import pytest

from tests.console.browser import Shots, launched_chromium

# Names the element and directive of any CSP violation, so a failure says what to fix.
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', e => console.error(
  'CSP', e.violatedDirective, e.sourceFile, e.lineNumber, JSON.stringify(e.sample),
  e.target && e.target.outerHTML && e.target.outerHTML.slice(0, 120)));
"""

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chromium(monkeypatch):
    with launched_chromium(monkeypatch) as browser:
        yield browser


@pytest.fixture
def page(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    # Any CSP violation or script error is a failure: the page must work under its own policy.
    page.on("console", lambda msg: _keep_error(errors, msg))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.console_errors = errors
    page.add_init_script(REPORT_CSP_VIOLATIONS)
    yield page
    context.close()


def _keep_error(errors: list[str], msg) -> None:
    # A form answered with its inline errors (400), a conflict (409, 412) or a document deleted
    # elsewhere (404) is expected; anything else logged as an error is not.
    if msg.type == "error" and not re.search(r"status of 4(00|04|09|12)\b", msg.text):
        errors.append(f"{msg.text} @ {msg.location}")


def _api(url: str, method: str = "GET", key: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("X-API-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback test server)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_sign_up_create_project_copy_key_and_use_it(page, live_server):
    """A new developer signs up, creates a project, copies the key shown once, and the API accepts it."""
    shot = Shots(page, "journey")
    page.goto("/console/")
    shot("sign-in")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Work email").fill("ada@example.com")
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("This password is too short").wait_for()
    shot("sign-up-inline-error")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Projects", exact=True).wait_for()
    shot("project-list-empty")

    page.get_by_label("Project name").fill("Recipe box")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Recipe box", exact=True).wait_for()
    shot("project-created-key-once")

    page.locator("#new-key [data-copy]").click()
    page.locator("[data-copied=true]").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert re.fullmatch(r"pk_[A-Za-z0-9_-]{20,}", copied)
    assert copied in page.locator("#code-curl-1").inner_text()

    api_url = page.locator("#api-url").inner_text()
    status, body = _api(api_url + "/project", key=copied)
    assert status == 200 and body["name"] == "Recipe box" and body["key_kind"] == "publishable"

    page.get_by_role("tab", name="Python").click()
    assert page.locator("#panel-python").is_visible()
    shot("quickstart-python")

    # Reload: the key is gone for good; the snippet shows a placeholder and says where to get one.
    page.goto(f"/console/p/{page.locator('#project-ref').inner_text()}/")
    assert copied not in page.content()
    assert "&lt;your publishable key&gt;" in page.content()

    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Allowed origins").fill("https://recipes.example.com\nnot an origin")
    page.get_by_role("button", name="Save origins").click()
    page.get_by_text("Not an origin: not an origin").wait_for()
    shot("settings-inline-error")
    page.get_by_label("Allowed origins").fill("https://recipes.example.com")
    page.get_by_role("button", name="Save origins").click()
    page.get_by_text("CORS origins saved.").wait_for()
    shot("settings-saved")

    # Schema: a collection anyone may read, with three field types.
    page.get_by_role("link", name="Schema").click()
    page.get_by_label("Name", exact=True).fill("recipes")
    page.get_by_label("Access").select_option("public_read_owner_write")
    page.get_by_role("button", name="Create collection").click()
    page.get_by_role("heading", name="Fields").wait_for()
    for name, kind, extra in [
        ("title", "string", {"Max length": "120"}),
        ("minutes", "number", {}),
        ("vegan", "boolean", {}),
    ]:
        page.get_by_label("Field name").fill(name)
        page.get_by_label("Type", exact=True).select_option(kind)
        assert page.get_by_label("Max length").is_visible() == (kind == "string")  # type-aware options
        for label, value in extra.items():
            page.get_by_label(label).fill(value)
        page.get_by_role("button", name="Save field").click()
        page.locator("#fields td strong", has_text=name).wait_for()
    page.get_by_label("Fields (comma separated, - for descending)").fill("minutes")
    page.get_by_role("button", name="Add index").click()
    page.get_by_text("Index declared").wait_for()
    shot("schema-collection")

    # Data: add three documents, filter, edit, delete.
    page.get_by_role("link", name="Browse data").click()
    page.get_by_text("0 documents").wait_for()
    data_url = page.url
    for title, minutes, vegan in [("Soup", "20", "true"), ("Stew", "90", "false"), ("Salad", "10", "true")]:
        page.goto(data_url)
        page.get_by_role("link", name="New document").click()
        page.get_by_label("title").fill(title)
        page.get_by_label("minutes").fill(minutes)
        page.get_by_label("vegan").select_option(vegan)
        page.get_by_role("button", name="Create document").click()
        page.get_by_text("created.").wait_for()
    page.goto(data_url)
    page.get_by_text("3 documents").wait_for()
    shot("data-table")
    page.get_by_label("Field", exact=True).select_option("minutes")
    page.get_by_label("Operator", exact=True).select_option(">")
    page.get_by_label("Value", exact=True).fill("15")
    page.get_by_role("button", name="Apply filter").click()
    page.get_by_text("2 documents match the filter").wait_for()
    assert page.locator("#where-json").inner_text() == 'where={"minutes": {"$gt": 15}}'
    shot("data-filtered")
    # The API with the copied publishable key gives the same answer as the console.
    api_where = urllib.parse.quote('{"minutes": {"$gt": 15}}')
    status, body = _api(f"{api_url}/collections/recipes/documents?where={api_where}&order=minutes", key=copied)
    assert status == 200 and [d["title"] for d in body["results"]] == ["Soup", "Stew"]

    page.get_by_role("link", name="minutes").click()  # sort ascending by minutes
    page.locator("tbody tr td a").first.click()
    page.get_by_label("title").fill("Quick soup")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text("Document saved.").wait_for()
    assert '"title": "Quick soup"' in page.locator("#raw-json").inner_text()
    shot("document-edit")
    page.get_by_role("button", name="Delete document").click()
    # Confirmed in the page's own dialog (issue 15), not the browser's confirm().
    page.locator("dialog.confirm-dialog[open]").get_by_role("button", name="Confirm").click()
    page.get_by_text("deleted.").wait_for()
    page.get_by_text("2 documents").wait_for()
    shot("data-after-delete")

    # Usage: today's bar counts the two API calls made above with the copied key (console pages
    # call services directly and are not data-API traffic).
    page.get_by_role("link", name="Usage").click()
    page.get_by_role("heading", name="Requests per day").wait_for()
    assert page.locator("#requests-today").inner_text() == "2"
    assert page.locator("rect.bar-today title").text_content().endswith(": 2 requests")
    assert page.locator(".share-row", has_text="recipes").locator(".share-value").first.inner_text() == "2"
    shot("usage")

    # Users & roles: an end-user created here signs in through the API; a role gets them as member.
    page.get_by_role("link", name="Users & roles").click()
    page.get_by_text("No users yet").wait_for()
    page.get_by_label("Email").fill("cook@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Create user").click()
    page.get_by_text("User cook@example.com created.").wait_for()
    shot("end-user")
    status, body = _api(
        api_url + "/auth/login", "POST", copied, {"email": "cook@example.com", "password": "a long enough passphrase"}
    )
    assert status == 200 and body["user"]["email"] == "cook@example.com"
    page.get_by_role("link", name="Users & roles").click()
    page.get_by_role("link", name="Roles", exact=True).click()
    page.get_by_label("Role name").fill("chef")
    page.get_by_role("button", name="Create role").click()
    page.get_by_label("Add a user (email, username or id)").fill("cook@example.com")
    page.get_by_role("button", name="Add user").click()
    page.get_by_text("cook@example.com added to chef.").wait_for()
    assert page.locator("#role-users a", has_text="cook@example.com").is_visible()
    shot("role")

    # API reference: the vendored Swagger UI renders this project's document under the strict CSP.
    page.get_by_role("link", name="API reference").click()
    page.locator("#swagger-ui .opblock-tag", has_text="recipes").first.wait_for()
    page.locator("#swagger-ui .opblock-summary-path", has_text="/api/v1/collections/recipes/documents").first.wait_for()
    page.wait_for_timeout(300)
    shot("api-reference")

    assert page.console_errors == [], "\n".join(page.console_errors)


def test_narrow_screen_menu_is_reachable(page, live_server, django_user_model):
    """On a phone-sized screen the sidebar hides behind a menu button that opens it."""
    django_user_model.objects.create_user("narrow@example.com", "a long enough passphrase")
    page.set_viewport_size({"width": 390, "height": 800})
    shot = Shots(page, "narrow")
    page.goto("/console/signin")
    page.get_by_label("Email").fill("narrow@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Project name").fill("Pocket")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Pocket", exact=True).wait_for()
    shot("home-narrow")
    assert not page.get_by_role("link", name="Settings").is_visible()
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Settings").wait_for(state="visible")
    page.wait_for_timeout(300)  # let the slide-in transition finish before the screenshot
    shot("menu-open")
    assert page.console_errors == [], "\n".join(page.console_errors)


def test_overview_fits_a_phone_without_sideways_scrolling(page, live_server, django_user_model):
    """Nothing on the overview is wider than a phone screen."""
    django_user_model.objects.create_user("phone@example.com", "a long enough passphrase")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/console/signin")
    page.get_by_label("Email").fill("phone@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Project name").fill("Pocket")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Pocket", exact=True).wait_for()
    # Nothing wider than the phone: no sideways scrolling.
    wide = page.evaluate(
        "Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > 392)"
        # Wide tables and code scroll inside their own boxes; what matters is that the page does not.
        ".filter(e => !e.closest('.sidebar, .table-wrap, pre'))"
        ".slice(0, 12).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    ref = page.locator("#project-ref").inner_text()
    for suffix in ("usage", "users", "roles", "reference", "schema", "settings"):
        page.goto(f"/console/p/{ref}/{suffix}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, suffix
    assert page.console_errors == [], "\n".join(page.console_errors)


def test_auth_settings_and_an_invitation_end_to_end(page, chromium, live_server, django_user_model):
    """An owner edits token lifetimes (a bad value is explained beside its field), invites a new
    person by email, and the invitee signs up from the link and lands in the project as developer."""
    from django.core import mail

    django_user_model.objects.create_user("boss@example.com", "a long enough passphrase")
    shot = Shots(page, "settings-invite")
    page.goto("/console/signin")
    page.get_by_label("Email").fill("boss@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Project name").fill("Team app")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Team app", exact=True).wait_for()
    ref = page.locator("#project-ref").inner_text()

    page.goto(f"/console/p/{ref}/settings")
    page.get_by_label("Access token lifetime (seconds)").fill("5")
    page.get_by_role("button", name="Save auth settings").click()
    page.locator("#id_access_token_ttl-errors").wait_for()
    assert "from 60" in page.locator("#id_access_token_ttl-errors").inner_text()
    page.locator("#auth").scroll_into_view_if_needed()
    shot("auth-settings-error")
    page.get_by_label("Access token lifetime (seconds)").fill("600")
    page.get_by_role("button", name="Save auth settings").click()
    page.get_by_text("Auth settings saved.").wait_for()
    assert page.get_by_label("Access token lifetime (seconds)").input_value() == "600"

    mail.outbox.clear()
    page.goto(f"/console/p/{ref}/members")
    page.get_by_label("Email to invite").fill("newcomer@example.com")
    page.locator("#invitations").get_by_label("Role").select_option("developer")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to newcomer@example.com").wait_for()
    shot("invitation-pending")
    link = re.search(r"https?://\S+/console/invite/\S+", mail.outbox[-1].body).group(0)

    invitee_context = chromium.new_context(base_url=live_server.url, viewport={"width": 1360, "height": 900})
    invitee = invitee_context.new_page()
    invitee.goto(link)
    Shots(invitee, "invitee")("invitation")
    invitee.get_by_role("link", name="Create an account to accept").click()
    assert invitee.get_by_label("Work email").input_value() == "newcomer@example.com"
    invitee.get_by_label("Password").fill("another long passphrase")
    invitee.get_by_role("button", name="Create account").click()
    invitee.get_by_role("button", name="Accept and open the project").click()
    invitee.get_by_role("heading", name="Team app", exact=True).wait_for()
    Shots(invitee, "invitee-joined")("project-home")
    assert django_user_model.objects.get(email="newcomer@example.com").memberships.get().role == "developer"
    invitee_context.close()
    assert page.console_errors == [], "\n".join(page.console_errors)


def test_forgot_password_from_sign_in_through_the_emailed_link(page, live_server, django_user_model):
    """Sign-in → "Forgot password?" → the emailed link → a new password that signs in, under the CSP."""
    from django.core import mail

    django_user_model.objects.create_user("forgetful@example.com", "the old passphrase here")
    shot = Shots(page, "password-reset")
    page.goto("/console/signin")
    page.get_by_role("link", name="Forgot password?").click()
    # The sign-in page has an "Email" field too: fill the reset form's, once it is the page.
    page.get_by_role("button", name="Send reset link").wait_for()
    page.get_by_label("Email").fill("forgetful@example.com")
    shot("forgot")
    page.get_by_role("button", name="Send reset link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    link = re.search(r"https?://[^/\s]+(/console/password/reset/\S+)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again", exact=True).fill("a brand new passphrase")
    shot("new-password")
    page.get_by_role("button", name="Save new password").click()
    page.get_by_role("heading", name="Password changed").wait_for()
    shot("changed")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("forgetful@example.com")
    page.get_by_label("Password").fill("a brand new passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Project name").wait_for()
    assert page.console_errors == [], "\n".join(page.console_errors)

"""The console's Files page in a real Chromium: upload with progress, preview, signed URL, ACL, delete."""

from __future__ import annotations

import urllib.request

import pytest

from basalt.files.models import File
from tests.console.browser import Shots
from tests.console.test_browser import chromium, page  # noqa: F401 (fixtures)
from tests.files.images import png

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_files_page_upload_preview_copy_acl_delete(page, live_server, django_user_model, tmp_path):  # noqa: F811
    django_user_model.objects.create_user("files@example.com", "a long enough passphrase")
    shot = Shots(page, "files")
    page.goto("/console/signin")
    page.get_by_label("Email").fill("files@example.com")
    page.get_by_label("Password").fill("a long enough passphrase")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Project name").fill("Pictures")
    page.get_by_role("button", name="Create project").click()
    page.get_by_role("heading", name="Pictures", exact=True).wait_for()
    page.get_by_role("link", name="Files", exact=True).click()
    page.get_by_role("heading", name="Files", exact=True).wait_for()
    image = tmp_path / "red.png"
    image.write_bytes(png(120, 80))
    # files.js is deferred: the heading can show before it has bound the input, and a file chosen
    # then uploads nothing (what a loaded CI host showed). "load" comes after deferred scripts.
    page.wait_for_load_state("load")
    page.set_input_files("#files-input", str(image))
    row = page.locator("#files-table tr", has_text="red.png")
    try:
        row.wait_for(timeout=30_000)
    except Exception:
        shot("upload-failed")
        raise AssertionError(f"{page.locator('#files-status').text_content()} {page.console_errors}") from None
    assert page.locator("#files-progress").get_attribute("value") is not None
    preview = row.locator("img.file-preview")
    preview.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 96", arg=preview.element_handle())
    shot("uploaded")
    stored = File.objects.get(name="red.png")
    assert stored.content_type == "image/png"

    row.get_by_role("button", name="Copy signed URL").click()
    row.get_by_role("button", name="Copied").wait_for()
    signed = row.get_by_role("button", name="Copied").get_attribute("data-signed")
    with urllib.request.urlopen(signed, timeout=10) as answer:  # noqa: S310 (loopback live server)
        assert answer.read() == image.read_bytes()

    row.get_by_label("ACL of red.png").fill('{"*": {"read": true}}')
    row.get_by_role("button", name="Save ACL").click()
    # The row is on the page before and after the save,
    # so wait for the stored ACL itself (up to 10 s) rather than for the row.
    for _ in range(100):
        stored.refresh_from_db()
        if stored.acl:
            break
        page.wait_for_timeout(100)
    assert stored.acl == {"*": {"read": True}}

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#files-table tr", has_text="red.png").get_by_role("button", name="Delete").click()
    page.get_by_text("No files yet.").wait_for()
    assert not File.objects.exists()
    shot("deleted")
    assert page.console_errors == [], "\n".join(page.console_errors)

"""Console Backup & copy page in Chromium: export and download, import into an empty project, copy."""

from __future__ import annotations

import pytest

from tests.console.browser import Shots
from tests.console.test_browser import chromium, page  # noqa: F401  (fixtures)

# archive_storage (autouse): files and archives in this test's folder, transfers inline.
from tests.operations.conftest import archive_storage, key_client, seed_project, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long enough passphrase"


def test_export_download_import_elsewhere_and_copy(page, make_project, tmp_path):  # noqa: F811
    shot = Shots(page, "transfers")
    page.set_default_timeout(30_000)  # the shared CI machine is slow; each step still waits for what it needs
    source = make_project("Shop")
    seed_project(source, n_posts=4)
    source.owner.set_password(PASSWORD)
    source.owner.save()
    target = make_project("Shop restored", owner=source.owner)

    page.goto("/console/signin")
    page.get_by_label("Email").fill(source.owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)
    page.goto(f"/console/p/{source.project.ref}")
    page.get_by_role("link", name="Backup & copy").click()
    page.get_by_role("heading", name="Backup & copy").wait_for()
    page.get_by_role("button", name="Export now").click()
    page.locator("#transfers [data-status=succeeded]").first.wait_for()
    shot("exported")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download").first.click()
    archive = tmp_path / "shop.basalt.tar.gz"
    download.value.save_as(archive)
    assert archive.read_bytes()[:2] == b"\x1f\x8b"
    # This project has data: no import form, a clear note instead.
    assert page.get_by_text("Imports go into an empty project").is_visible()

    page.goto(f"/console/p/{target.project.ref}/transfers")
    page.get_by_label("Archive").set_input_files(str(archive))
    page.get_by_label("Made by").select_option("basalt")
    page.get_by_role("button", name="Import").click()
    page.locator("#transfers [data-status=succeeded]").first.wait_for()
    shot("imported")
    # The import went in: a user of the source signs in to the restored project with the same password.
    token = sign_in(target.publishable, "ada@example.com")
    found = key_client(target.publishable, token).get("/api/v1/collections/posts/documents").json()
    assert len(found["results"]) >= 2

    page.goto(f"/console/p/{source.project.ref}/transfers")
    page.get_by_label("New project's name").fill("Shop staging")
    page.get_by_role("button", name="Copy project").click()
    page.locator("#transfers [data-status=succeeded]").first.wait_for()
    page.get_by_role("link", name="Shop staging").first.wait_for()
    shot("copied")
    assert not page.console_errors, page.console_errors

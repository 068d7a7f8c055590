"""Two tabs never silently overwrite each other: documents use their ETag, whole-state forms
(access rules, settings sections) a fingerprint of what they showed; a stale save is a conflict
with the choice to reload or overwrite, and a save after a delete says so inside the project."""

from __future__ import annotations

import html
import re

import pytest

from basalt.documents import catalog
from basalt.documents.models import Collection, Document

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(project):
    catalog.create_collection(
        project.project,
        {"name": "posts", "fields": {"title": {"type": "string"}, "score": {"type": "number"}}},
    )
    return f"/console/p/{project.project.ref}"


def hidden(page: str, name: str) -> str:
    """A hidden input's value as a tab holds it (the first form that has it)."""
    return html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page).group(1))


def _new_doc(client, base: str) -> str:
    response = client.post(f"{base}/data/posts/new", {"title": "first", "score": "1", "acl": ""})
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


def test_a_stale_document_save_is_a_conflict_with_reload_or_overwrite(owner_client, base):
    doc_id = _new_doc(owner_client, base)
    url = f"{base}/data/posts/{doc_id}"
    tab_a = owner_client.get(url).content.decode()
    tab_b = owner_client.get(url).content.decode()
    saved_b = owner_client.post(url, {"title": "from B", "score": "2", "acl": "", "etag": hidden(tab_b, "etag")})
    assert saved_b.status_code == 302

    stale = owner_client.post(url, {"title": "from A", "score": "3", "acl": "", "etag": hidden(tab_a, "etag")})
    page = stale.content.decode()
    assert stale.status_code == 412
    assert "Changed since you opened this page" in page and "Reload (discard mine)" in page
    assert "from B" in page and 'value="from A"' in page  # what is stored, and what was typed
    assert Document.objects.get(id=doc_id).data["title"] == "from B"

    overwrite = owner_client.post(url, {"title": "from A", "score": "3", "acl": "", "etag": hidden(page, "etag")})
    assert overwrite.status_code == 302
    assert Document.objects.get(id=doc_id).data == {"title": "from A", "score": 3}


def test_saving_a_document_deleted_elsewhere_says_so_inside_the_project(owner_client, base, project):
    doc_id = _new_doc(owner_client, base)
    url = f"{base}/data/posts/{doc_id}"
    tab = owner_client.get(url).content.decode()
    assert owner_client.post(f"{url}/delete", {"etag": hidden(tab, "etag")}).status_code == 302

    response = owner_client.post(url, {"title": "typed", "score": "4", "acl": "", "etag": hidden(tab, "etag")})
    page = response.content.decode()
    assert response.status_code == 404
    assert f"Document {doc_id} was deleted" in page and project.project.name in page  # the project's shell
    assert 'value="typed"' in page and f'action="{base}/data/posts/new"' in page  # create it again from here


def test_a_stale_delete_asks_again_and_deletes_on_confirmation(owner_client, base):
    doc_id = _new_doc(owner_client, base)
    url = f"{base}/data/posts/{doc_id}"
    tab = owner_client.get(url).content.decode()
    owner_client.post(url, {"title": "changed", "score": "1", "acl": "", "etag": hidden(tab, "etag")})

    refused = owner_client.post(f"{url}/delete", {"etag": hidden(tab, "etag")})
    assert refused.status_code == 412 and "Delete it anyway" in refused.content.decode()
    assert Document.objects.filter(id=doc_id).exists()
    confirmed = owner_client.post(f"{url}/delete", {"etag": hidden(refused.content.decode(), "etag")})
    assert confirmed.status_code == 302 and not Document.objects.filter(id=doc_id).exists()


def _rules_form(page: str) -> str:
    return page[page.index('id="rules"') :]


def test_stale_access_rules_are_a_conflict_and_keep_what_was_typed(owner_client, base):
    url = f"{base}/schema/posts"
    tab_a = _rules_form(owner_client.get(url).content.decode())
    tab_b = _rules_form(owner_client.get(url).content.decode())
    form = {"form": "rules", "preset": "signed_in", "protected_fields": "", "version": hidden(tab_b, "version")}
    assert owner_client.post(f"{url}/rules", form).status_code == 302

    typed = {
        "form": "rules",
        "preset": "custom",
        "perm_find": "*, role:editors",
        "default_acl": "public",
        "protected_fields": "*: score",
        "version": hidden(tab_a, "version"),
    }
    stale = owner_client.post(f"{url}/rules", typed)
    page = _rules_form(stale.content.decode())
    assert stale.status_code == 409 and "Changed since you opened this page" in page
    assert 'value="*, role:editors"' in page and "*: score</textarea>" in page
    assert Collection.objects.get(name="posts").permissions["find"] == ["authenticated"]

    assert owner_client.post(f"{url}/rules", {**typed, "version": hidden(page, "version")}).status_code == 302
    assert Collection.objects.get(name="posts").permissions["find"] == ["*", "role:editors"]


@pytest.mark.parametrize(
    ("action", "anchor", "mine", "theirs", "stored"),
    [
        ("settings/name", "general", {"name": "Mine"}, {"name": "Theirs"}, lambda p: p.name),
        (
            "settings/cors",
            "cors",
            {"cors_origins": "https://mine.example"},
            {"cors_origins": "https://theirs.example"},
            lambda p: p.settings["cors_origins"],
        ),
    ],
)
def test_stale_settings_are_a_conflict_not_an_overwrite(owner_client, project, action, anchor, mine, theirs, stored):
    settings_url = f"/console/p/{project.project.ref}/settings"
    page = owner_client.get(settings_url).content.decode()
    card = page[page.index(f'id="{anchor}"') :]
    version = hidden(card, "version")
    assert (
        owner_client.post(f"/console/p/{project.project.ref}/{action}", {**theirs, "version": version}).status_code
        == 302
    )
    before = stored(type(project.project).objects.get(pk=project.project.pk))

    stale = owner_client.post(f"/console/p/{project.project.ref}/{action}", {**mine, "version": version})
    assert stale.status_code == 409 and "Changed since you opened this page" in stale.content.decode()
    assert stored(type(project.project).objects.get(pk=project.project.pk)) == before
    card = stale.content.decode()[stale.content.decode().index(f'id="{anchor}"') :]
    again = owner_client.post(
        f"/console/p/{project.project.ref}/{action}", {**mine, "version": hidden(card, "version")}
    )
    assert again.status_code == 302


def test_removing_an_index_removes_the_one_shown_even_after_another_was_removed(owner_client, base, project):
    catalog.update_collection(project.project, "posts", {"indexes": [{"fields": ["title"]}, {"fields": ["score"]}]})
    page = owner_client.get(f"{base}/schema/posts").content.decode()
    # Another tab removes the first index; this tab then removes "score", shown at position 1.
    owner_client.post(f"{base}/schema/posts/indexes/0/remove", {"index_fields": "title", "index_unique": "false"})
    assert 'name="index_fields" value="score"' in page
    response = owner_client.post(
        f"{base}/schema/posts/indexes/1/remove", {"index_fields": "score", "index_unique": "false"}
    )
    assert response.status_code == 302
    assert Collection.objects.get(name="posts").indexes == []

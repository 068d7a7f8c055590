"""Saved views of the data browser: shared by the project's members, saved and deleted by those who
may change data, the query kept to the keys the page reads, hostile names and queries refused."""

from __future__ import annotations

import html

import pytest

from basalt.documents import catalog
from basalt.documents.models import SavedView

pytestmark = pytest.mark.django_db

QUERY = "f=pages&op=%E2%89%A5&v=100&g=0&order=-pages&size=50"


@pytest.fixture
def books(project):
    catalog.create_collection(project.project, {"name": "books", "fields": {"pages": {"type": "number"}}})
    ref = project.project.ref
    return {"page": f"/console/p/{ref}/data/books", "save": f"/console/p/{ref}/data/books/views"}


def _save(client, books, name: str, query: str = QUERY):
    return client.post(books["save"], {"name": name, "query": query})


@pytest.mark.parametrize("role", ["developer", "admin", "owner"])
def test_a_view_saved_by_one_member_is_seen_by_every_member(as_role, member_client, books, role):
    answer = _save(as_role(role), books, "Long books")
    assert answer.status_code == 302 and answer["Location"].endswith("?" + QUERY)
    view = SavedView.objects.get()
    assert (view.name, view.query) == ("Long books", QUERY)
    page = html.unescape(member_client("viewer").get(books["page"]).content.decode())
    assert f'href="?{html.unescape(QUERY)}"' in page and "Long books" in page
    assert "Delete view Long books" not in page and 'name="query"' not in page  # a viewer's controls are absent


def test_a_viewer_saves_and_deletes_nothing(as_role, books):
    _save(as_role("developer"), books, "Kept")
    viewer = as_role("viewer")
    assert _save(viewer, books, "Mine").status_code == 403
    view = SavedView.objects.get()
    assert viewer.post(f"{books['save']}/{view.pk}/delete").status_code == 403
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Kept"]


def test_saving_a_name_again_replaces_it_and_delete_removes_it(owner_client, books):
    _save(owner_client, books, "Mine")
    _save(owner_client, books, "  Mine ", "order=pages")
    view = SavedView.objects.get()
    assert view.query == "order=pages"
    assert owner_client.post(f"{books['save']}/{view.pk}/delete").status_code == 302
    assert not SavedView.objects.exists()
    assert owner_client.post(f"{books['save']}/{view.pk}/delete").status_code == 404


def test_only_the_keys_the_page_reads_are_kept(owner_client, books):
    _save(owner_client, books, "Clean", "?f=pages&op=%3D&v=1&cursor=abc&page=7&evil=%3Cscript%3E&where=%7B%7D")
    assert SavedView.objects.get().query == "f=pages&op=%3D&v=1&where=%7B%7D"


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("", QUERY),
        ("   ", QUERY),
        ("x" * 61, QUERY),
        ("tab\tname\u202e", QUERY),
        ("nul\x00", QUERY),
        ("huge", "v=" + "a" * 5000),
    ],
)
def test_hostile_names_and_queries_change_nothing(owner_client, books, name, query):
    answer = _save(owner_client, books, name, query)
    assert answer.status_code == 302
    assert not SavedView.objects.exists()
    page = owner_client.get(answer["Location"]).content.decode()
    assert "View not saved" in page


def test_views_belong_to_their_collection_and_project(owner_client, books, project, make_project, browser_for):
    _save(owner_client, books, "Mine")
    view = SavedView.objects.get()
    other = make_project()
    catalog.create_collection(other.project, {"name": "books", "fields": {"pages": {"type": "number"}}})
    stranger = browser_for(other.owner)
    theirs = f"/console/p/{other.project.ref}/data/books/views/{view.pk}/delete"
    assert stranger.post(theirs).status_code == 404  # another project's view id is unknown there
    assert "Mine" not in stranger.get(f"/console/p/{other.project.ref}/data/books").content.decode()
    assert SavedView.objects.count() == 1
    catalog.delete_collection(project.project, "books")
    assert not SavedView.objects.exists()

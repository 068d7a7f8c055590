"""Kept thumbnails (files/kept.py): bytes served from memory after the first read, bounded in
bytes, and never before the caller, the ACL and the file itself are checked again; a kept one costs
the queries of a metadata GET and no more."""

from __future__ import annotations

import pytest

from basalt.files import kept
from tests.files import images
from tests.files.conftest import content_of, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sizes(project):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"thumbnail_sizes": ["16x16"]}})
    kept.clear()
    yield
    kept.clear()


def test_the_memory_is_bounded_and_least_recently_used_goes_first(settings):
    settings.FILES_THUMBNAIL_MEMORY_BYTES = 1600
    for name in "abcdefghijklmnopq":
        kept.put(name, b"x" * 100, "image/png")
        if name == "b":
            assert kept.get("a").body == b"x" * 100  # a is now more recent than b
    # 16 x 100 bytes fit: the 17th pushed out b, the least recently used (a was read after it)
    assert kept.get("b") is None
    assert kept.get("a") == (b"x" * 100, "image/png") and kept.get("q").body == b"x" * 100
    kept.put("huge", b"y" * 200, "image/png")  # over 1/16 of the bound: not kept
    assert kept.get("huge") is None


def test_a_kept_thumbnail_is_served_from_memory_with_the_same_bytes(secret_client, file_storage, monkeypatch):
    stored = upload(secret_client, images.png(64, 64), name="p.png").json()
    first = secret_client.get(f"{stored['url']}?thumb=16x16")
    assert first.status_code == 200
    reads = []
    real_read = file_storage.read
    monkeypatch.setattr(file_storage, "read", lambda *args, **kwargs: reads.append(args) or real_read(*args, **kwargs))
    again = secret_client.get(f"{stored['url']}?thumb=16x16")
    assert again.status_code == 200 and content_of(again) == content_of(first)
    assert again["ETag"] == first["ETag"] and again["Content-Type"] == first["Content-Type"]
    assert reads == []


def test_a_kept_thumbnail_still_needs_read_access_and_a_live_file(user_of):
    alice, _ = user_of("alice@example.com")
    bob, _ = user_of("bob@example.com")
    stored = upload(alice, images.png(64, 64), name="p.png").json()
    assert alice.get(f"{stored['url']}?thumb=16x16").status_code == 200  # now kept
    assert bob.get(f"{stored['url']}?thumb=16x16").status_code == 404
    assert alice.delete(f"/api/v1/files/{stored['id']}").status_code == 204
    assert alice.get(f"{stored['url']}?thumb=16x16").status_code == 404


def test_a_kept_thumbnail_costs_the_queries_of_a_metadata_get(secret_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    stored = upload(secret_client, images.png(64, 64), name="p.png").json()
    first = secret_client.get(f"{stored['url']}?thumb=16x16")
    assert first.status_code == 200
    with CaptureQueriesContext(connection) as metadata:
        assert secret_client.get(f"/api/v1/files/{stored['id']}").status_code == 200
    with CaptureQueriesContext(connection) as thumbnail:
        again = secret_client.get(f"{stored['url']}?thumb=16x16")
    assert again.status_code == 200 and content_of(again) == content_of(first)
    assert {k: v for k, v in again.items() if k != "X-Request-Id"} == {
        k: v for k, v in first.items() if k != "X-Request-Id"
    }
    assert len(thumbnail.captured_queries) == len(metadata.captured_queries)
    assert not any("basalt_file_thumbnail" in query["sql"] for query in thumbnail.captured_queries)

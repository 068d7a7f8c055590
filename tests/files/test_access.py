"""Access like documents: ACLs, project default, another project's ids, signed URLs (API.md §5)."""

from __future__ import annotations

import base64
import time

import pytest
from rest_framework.test import APIClient

from basalt.files.models import File
from tests.documents.test_acl_filter import READ_LISTS, READERS
from tests.files.conftest import content_of, upload
from tests.files.images import png

pytestmark = pytest.mark.django_db


def test_anonymous_cannot_upload_by_default(publishable_client):
    answer = upload(publishable_client, b"x")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "permission_denied"
    assert File.objects.count() == 0


def test_owner_acl_by_default_hides_file_from_others(user_of):
    alice, alice_id = user_of("alice@example.com")
    bob, _ = user_of("bob@example.com")
    stored = upload(alice, b"alice's", name="a.txt").json()
    assert stored["acl"] == {alice_id: {"read": True, "write": True}}
    assert alice.get(f"/api/v1/files/{stored['id']}").status_code == 200
    for path in (f"/api/v1/files/{stored['id']}", stored["url"]):
        answer = bob.get(path)
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"
    assert bob.delete(f"/api/v1/files/{stored['id']}").status_code == 404
    assert bob.post(f"/api/v1/files/{stored['id']}/url", {}, format="json").status_code == 404
    assert [f["id"] for f in bob.get("/api/v1/files").json()["results"]] == []
    assert [f["id"] for f in alice.get("/api/v1/files").json()["results"]] == [stored["id"]]


def test_public_read_file_cannot_be_changed_by_others(user_of, project):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"files": {"default_acl": "owner_write_public_read"}})
    alice, _ = user_of("alice@example.com")
    bob, _ = user_of("bob@example.com")
    stored = upload(alice, b"shared", name="s.txt").json()
    assert bob.get(stored["url"]).status_code == 200
    anonymous = APIClient()
    anonymous.credentials(HTTP_X_API_KEY=project.publishable)
    assert anonymous.get(f"/api/v1/files/{stored['id']}").status_code == 200
    denied = bob.delete(f"/api/v1/files/{stored['id']}")
    assert denied.status_code == 403
    assert bob.patch(f"/api/v1/files/{stored['id']}", {"name": "mine"}, format="json").status_code == 403
    assert File.objects.filter(pk=stored["id"]).exists()


def test_acl_can_be_changed_by_a_writer(user_of):
    alice, alice_id = user_of("alice@example.com")
    bob, bob_id = user_of("bob@example.com")
    stored = upload(alice, b"x", name="x.txt").json()
    changed = alice.patch(
        f"/api/v1/files/{stored['id']}",
        {"acl": {alice_id: {"read": True, "write": True}, bob_id: {"read": True}}, "name": "../renamed.txt"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["name"] == "renamed.txt"
    assert bob.get(f"/api/v1/files/{stored['id']}").status_code == 200
    bad = alice.patch(f"/api/v1/files/{stored['id']}", {"acl": {"role:": {"read": True}}}, format="json")
    assert bad.status_code == 400


def test_another_projects_file_is_404(secret_client, make_project):
    stored = upload(secret_client, b"mine").json()
    other = make_project("Other")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=other.secret)
    for method, path in (
        ("get", f"/api/v1/files/{stored['id']}"),
        ("get", stored["url"]),
        ("delete", f"/api/v1/files/{stored['id']}"),
        ("post", f"/api/v1/files/{stored['id']}/url"),
    ):
        answer = getattr(client, method)(path)
        assert answer.status_code == 404, (method, path)
    assert client.get("/api/v1/files").json()["results"] == []
    assert File.objects.filter(pk=stored["id"]).exists()


def test_delete_removes_row_and_bytes(secret_client, file_storage, project):
    from tests.files.test_upload import stored_objects

    stored = upload(secret_client, b"bye").json()
    assert secret_client.delete(f"/api/v1/files/{stored['id']}").status_code == 204
    assert secret_client.get(f"/api/v1/files/{stored['id']}").status_code == 404
    assert stored_objects(file_storage, project.project.pk) == []


def test_signed_url_serves_without_headers_and_is_bound(secret_client, project):
    stored = upload(secret_client, b"signed bytes", name="s.txt").json()
    other = upload(secret_client, b"other bytes", name="o.txt").json()
    minted = secret_client.post(f"/api/v1/files/{stored['id']}/url", {"expires_in": 60}, format="json")
    assert minted.status_code == 200, minted.content
    url = minted.json()["url"]
    # No body takes the defaults; a body that is not an object (JSON null, a list) is a 400.
    assert secret_client.post(f"/api/v1/files/{stored['id']}/url").status_code == 200
    for body in (b"null", b"[]", b'"x"'):
        refused = secret_client.post(f"/api/v1/files/{stored['id']}/url", body, content_type="application/json")
        assert refused.status_code == 400 and refused.json()["error"]["details"] == {"body": ["Must be a JSON object."]}
    bare = APIClient()
    answer = bare.get(url)
    assert answer.status_code == 200
    assert content_of(answer) == b"signed bytes"
    token = url.split("token=")[1]
    # the same token for another file, a changed expiry or signature: 403
    assert bare.get(f"/api/v1/files/{other['id']}/content?token={token}").status_code == 403
    expires, key_id, mac = token.split(".")
    for forged in (f"{int(expires) + 1000}.{key_id}.{mac}", f"{expires}.{key_id}.{mac[:-2]}AA", "garbage", ""):
        denied = bare.get(f"{stored['url']}?token={forged}")
        assert denied.status_code == 403, forged
        assert denied.json()["error"]["code"] == "permission_denied"


def test_expired_signed_url_is_403(secret_client, monkeypatch):
    stored = upload(secret_client, b"soon gone").json()
    url = secret_client.post(f"/api/v1/files/{stored['id']}/url", {"expires_in": 1}, format="json").json()["url"]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)
    assert APIClient().get(url).status_code == 403


def test_revoked_key_cannot_mint_and_its_urls_stop(project):
    from basalt.projects import services as projects

    key = projects.create_key(project.owner, project.project, "secret")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key.raw)
    stored = upload(client, b"x").json()
    url = client.post(f"/api/v1/files/{stored['id']}/url", {}, format="json").json()["url"]
    assert APIClient().get(url).status_code == 200
    projects.revoke_key(project.owner, project.project.ref, key.key.id)
    assert APIClient().get(url).status_code == 403
    again = client.post(f"/api/v1/files/{stored['id']}/url", {}, format="json")
    assert again.status_code == 401


def test_revoked_session_cannot_mint(user_of, project):
    alice, _ = user_of("alice@example.com")
    stored = upload(alice, b"x").json()
    assert alice.post("/api/v1/auth/logout", {}, format="json").status_code in (200, 204)
    answer = alice.post(f"/api/v1/files/{stored['id']}/url", {}, format="json")
    assert answer.status_code == 401


def test_list_is_paged_and_filtered(secret_client):
    from tests.files.images import png

    ids = [upload(secret_client, f"t{i}".encode(), name=f"{i}.txt").json()["id"] for i in range(5)]
    image = upload(secret_client, png(), name="i.png").json()["id"]
    first = secret_client.get("/api/v1/files?limit=4").json()
    assert len(first["results"]) == 4 and first["next_cursor"]
    second = secret_client.get(f"/api/v1/files?limit=4&cursor={first['next_cursor']}").json()
    assert second["next_cursor"] is None
    seen = [f["id"] for f in first["results"] + second["results"]]
    assert sorted(seen) == sorted([*ids, image]) and len(set(seen)) == 6
    images = secret_client.get("/api/v1/files?content_type=image/*").json()["results"]
    assert [f["id"] for f in images] == [image]
    for bad in ("limit=0", "limit=x", "cursor=%%%", "created_after=yesterday"):
        answer = secret_client.get(f"/api/v1/files?{bad}")
        assert answer.status_code == 400, bad


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_past_year_1_or_9999_in_utc_are_400s_not_500s(secret_client, moment):
    """Such a filter or forged cursor raised OverflowError when converted to UTC (SQLite binds UTC): a 500."""
    cursor = base64.urlsafe_b64encode(f"{moment}|f1".encode()).decode()
    for params in ({"created_after": moment}, {"created_at_lte": moment}, {"cursor": cursor}):
        answer = secret_client.get("/api/v1/files", params)
        assert answer.status_code == 400, params
        assert answer.json()["error"]["code"] == "invalid_query"


def test_project_deletion_removes_files(project, file_storage, django_capture_on_commit_callbacks):
    from basalt.projects import services as projects
    from tests.files.test_upload import stored_objects

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=project.secret)
    upload(client, b"one")
    upload(client, b"two")
    assert len(stored_objects(file_storage, project.project.pk)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        projects.delete_project(project.owner, project.project.ref)
    assert File.objects.count() == 0
    assert stored_objects(file_storage, project.project.pk) == []


def test_empty_or_stray_query_values_are_refused_not_ignored(secret_client):
    """Found by the schema fuzzer: `created_before=` listed everything and `fit` without `thumb`
    served the original; a filter or option the server would drop must be a 400 instead."""
    file_id = upload(secret_client, png(), name="i.png").json()["id"]
    empty = secret_client.get("/api/v1/files?created_before=")
    assert empty.status_code == 400, empty.content
    assert empty.json()["error"]["code"] == "invalid_query"
    stray = secret_client.get(f"/api/v1/files/{file_id}/content?fit=cover")
    assert stray.status_code == 400, stray.content
    assert "fit" in stray.json()["error"]["details"]


@pytest.mark.parametrize("readers", READERS, ids=lambda readers: repr(sorted(readers)))
def test_listing_sees_exactly_the_files_whose_acl_names_a_principal(project, readers):
    """The documents' read-ACL filter, applied to file rows (tests/documents/test_acl_filter.py):
    each read list stored as Django writes it (json.dumps) and as the store writes documents."""
    from types import SimpleNamespace

    import orjson
    from django.db import connection

    from basalt.files.access import readable

    j = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    expected = set()
    for n, read in enumerate(READ_LISTS):
        escaped = File.objects.create(
            id=f"f{n}e1", project=project.project, name="a", content_type="x", read_principals=read
        )
        raw = File.objects.create(id=f"f{n}e0", project=project.project, name="a", content_type="x")
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE basalt_file SET read_principals = {j} WHERE id = %s", [orjson.dumps(read).decode(), raw.id]
            )
        if not readers.isdisjoint(read):
            expected |= {escaped.id, raw.id}
    caller = SimpleNamespace(is_secret=False, principals=frozenset(readers))
    assert set(readable(caller, File.objects.filter(project=project.project)).values_list("id", flat=True)) == expected

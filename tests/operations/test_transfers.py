"""Project export → import round trip, clone, and the refusals (API.md §12), on the management API."""

from __future__ import annotations

import pytest

from tests.conftest import body_of, console_client_for
from tests.operations.conftest import PASSWORD, answers, key_client, seed_project, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def export_archive(seeded) -> bytes:
    answer = seeded.console.post(f"{seeded.base}/exports")
    assert answer.status_code == 202, answer.content
    job = answer.json()
    status = seeded.console.get(job["url"]).json()
    assert status["status"] == "succeeded", status["error"]
    assert status["progress"]["counts"]["documents"] >= 12
    assert status["progress"]["counts"] == status["progress"]["counts"] | {"users": 3, "roles": 2, "files": 1}
    download = seeded.console.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "application/gzip"
    return body_of(download)


def import_into(console, ref: str, data: bytes, fmt: str = "basalt"):
    answer = console.generic(
        "POST", f"/api/v1/manage/projects/{ref}/imports?from={fmt}", data, content_type="application/gzip"
    )
    return answer


def test_export_then_import_on_another_install_answers_every_api_call_the_same(make_project, monkeypatch):
    from basalt.operations import archive, exporting, importing

    # Small pages, entries and batches: the keyset paging, entry cuts and batch flushes all run.
    monkeypatch.setattr(exporting, "PAGE", 4)
    monkeypatch.setattr(exporting, "DOCUMENT_PAGE", 4)
    monkeypatch.setattr(archive, "CHUNK_ROWS", 5)
    monkeypatch.setattr(importing, "BATCH", 3)
    original = make_project("Original")
    seeded = seed_project(original)
    emails = list(seeded.users)
    files = list(seeded.files)
    before = answers(original, emails, files, seeded.posts[1])
    schema_before = seeded.console.get(f"{seeded.base}/collections/posts").json()
    settings_before = seeded.console.get(f"{seeded.base}/settings").json()
    data = export_archive(seeded)

    # "Another install": the original's rows are gone, so every id is free again (kept as is).
    owner = original.owner
    assert seeded.console.delete(seeded.base, {"confirm": original.project.name}, format="json").status_code in (
        200,
        204,
    )
    target = make_project("Target", owner=owner)
    console = console_client_for(owner)
    answer = import_into(console, target.project.ref, data)
    assert answer.status_code == 202, answer.content
    status = console.get(answer.json()["url"]).json()
    assert status["status"] == "succeeded", status["error"]
    assert status["progress"]["ids_rewritten"] is False

    after = answers(target, emails, files, seeded.posts[1])
    assert after == before
    base = f"/api/v1/manage/projects/{target.project.ref}"
    assert console.get(f"{base}/collections/posts").json() == schema_before
    assert console.get(f"{base}/settings").json()["cors_origins"] == settings_before["cors_origins"]
    # The file bytes, the ACL on them, and the sign-in with the old password were all compared above.
    assert before["ada@example.com.file." + files[0]] == (200, seeded.files[files[0]])


def test_clone_copies_everything_under_new_ids(make_project):
    original = make_project("Original")
    seeded = seed_project(original)
    answer = seeded.console.post(f"{seeded.base}/clone", {"name": "Copy"}, format="json")
    assert answer.status_code == 202, answer.content
    body = answer.json()
    status = seeded.console.get(body["url"]).json()
    assert status["status"] == "succeeded", status["error"]
    copy_ref = body["project"]["ref"]
    keys = seeded.console.post(
        f"/api/v1/manage/projects/{copy_ref}/keys", {"kind": "secret", "name": "s"}, format="json"
    ).json()["key"]
    pk = seeded.console.post(
        f"/api/v1/manage/projects/{copy_ref}/keys", {"kind": "publishable", "name": "p"}, format="json"
    ).json()["key"]
    old = key_client(original.secret).get("/api/v1/collections/posts/documents", {"order": "created_at"}).json()
    new = key_client(keys).get("/api/v1/collections/posts/documents", {"order": "created_at"}).json()
    assert [d["title"] for d in new["results"]] == [d["title"] for d in old["results"]]
    assert not {d["id"] for d in new["results"]} & {d["id"] for d in old["results"]}
    # A user signs in to the copy with the old password and sees exactly what they saw before.
    for email in seeded.users:
        token_old = sign_in(original.publishable, email)
        token_new = sign_in(pk, email)
        mine_old = key_client(original.publishable, token_old).get("/api/v1/collections/posts/documents").json()
        mine_new = key_client(pk, token_new).get("/api/v1/collections/posts/documents").json()
        assert sorted(d["title"] for d in mine_new["results"]) == sorted(d["title"] for d in mine_old["results"])
    # Pointers follow the new ids: the author is the copy's ada, and the cover file's bytes came along.
    ada_new = key_client(pk, sign_in(pk, "ada@example.com")).get("/api/v1/auth/me").json()
    first = new["results"][0]
    assert first["author"] == ada_new["id"] != seeded.users["ada@example.com"]
    cover = first["cover"]["id"] if isinstance(first["cover"], dict) else first["cover"]
    content = key_client(keys).get(f"/api/v1/files/{cover}/content")
    assert body_of(content) == next(iter(seeded.files.values()))
    # The original is untouched.
    assert (
        key_client(original.publishable)
        .post("/api/v1/auth/login", {"email": "ada@example.com", "password": PASSWORD}, format="json")
        .status_code
        == 200
    )


def test_every_character_a_json_string_can_hold_survives_the_round_trip(make_project):
    # Documents leave as lines the database builds (PostgreSQL: COPY text, whose backslash escaping is
    # undone); every escape JSON has, a literal "\N" (COPY's NULL), tabs and non-ASCII must come back.
    import io

    from basalt.operations import exporting, importing

    source = make_project("Characters")
    console = console_client_for(source.owner)
    notes = {
        "name": "notes",
        "fields": {"text": {"type": "string"}, "parts": {"type": "array", "items": "string"}},
        "permissions": {op: ["*"] for op in ("get", "find", "create")},
    }
    assert (
        console.post(f"/api/v1/manage/projects/{source.project.ref}/collections", notes, format="json").status_code
        == 201
    )
    tricky = [
        "back\\slash \\\\ double \\N \\n not-a-newline",
        "quote \" and ' apostrophe",
        "line\nbreak\r\n tab\t bell\x07 nul-free \x1f unit",
        "ünïcödé ✓ 𝄞 emoji 🎉 \u2028 \u2029",
        "\\",
        "",
    ]
    sk = key_client(source.secret)
    made = []
    for text in tricky:
        answer = sk.post("/api/v1/collections/notes/documents", {"text": text, "parts": [text, "\\N"]}, format="json")
        assert answer.status_code == 201, answer.content
        made.append(answer.json())
    archive_bytes = io.BytesIO()
    counts = exporting.export_project(source.project, archive_bytes)["counts"]
    assert counts["documents"] >= len(tricky)

    target = make_project("Characters copy", owner=source.owner)
    result = importing.import_archive(target.project, lambda: io.BytesIO(archive_bytes.getvalue()))
    assert result["ids_rewritten"] is True  # the source still holds the ids: the copy gets new ones
    copied = key_client(target.secret).get("/api/v1/collections/notes/documents", {"order": "created_at"}).json()
    strip = ("id",)
    assert [{k: v for k, v in d.items() if k not in strip} for d in copied["results"]] == [
        {k: v for k, v in d.items() if k not in strip} for d in made
    ]

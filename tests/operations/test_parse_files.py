"""Parse file bytes on import: from a folder (Parse's FS adapter / a GridFS dump) or a base URL on an
allowed host; File fields then point at files stored with the project; missing files are counted."""

from __future__ import annotations

import http.server
import json
import os
import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import console_client_for
from tests.operations.conftest import key_client
from tests.operations.test_parse_import import as_zip

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2 + b"\x08\x02\x00\x00\x00" + b"p" * 300
CAT = "0123456789abcdef0123456789abcdef_cat.png"
NOTES = "fedcba9876543210fedcba9876543210_notes.txt"


def _file(name: str, url: str = "") -> dict:
    return {"__type": "File", "name": name, "url": url or f"https://parse.example.com/files/app/{name}"}


def _export(evil_url: str = "") -> dict:
    return {
        "_User.json": {"results": [
            {"objectId": "u1", "username": "ada", "avatar": _file(CAT), "createdAt": "2024-01-01T00:00:00.000Z"},
        ]},
        "Photo.json": {"results": [
            {"objectId": "p1", "title": "cat", "image": _file(CAT)},
            {"objectId": "p2", "title": "notes", "image": _file(NOTES, evil_url)},
            {"objectId": "p3", "title": "gone", "image": _file("missing_dog.png")},
            {"objectId": "p4", "title": "escape", "image": _file("../../../etc/passwd")},
            {"objectId": "p5", "title": "link", "image": _file("link.png")},
        ]},
    }  # fmt: skip


def _run(keys, tmp_path, *flags) -> dict:
    path = tmp_path / "export.zip"
    path.write_bytes(as_zip(_export()))
    out = StringIO()
    call_command(
        "import_project", "--ref", keys.project.ref, "--input", str(path), "--format", "parse", "--quiet", *flags,
        stdout=out,
    )  # fmt: skip
    return json.loads(out.getvalue())


def _photos(keys) -> dict[str, dict]:
    found = key_client(keys.secret).get("/api/v1/collections/photo/documents", {"limit": 50})
    assert found.status_code == 200, found.content
    return {doc["title"]: doc for doc in found.json()["results"]}


def _bytes(keys, file_id: str) -> bytes:
    answer = key_client(keys.secret).get(f"/api/v1/files/{file_id}/content")
    assert answer.status_code == 200, answer.content
    return b"".join(answer.streaming_content) if answer.streaming else answer.content


def test_file_bytes_from_a_folder_become_files_of_the_project(make_project, tmp_path):
    keys = make_project("Parse files")
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / CAT).write_bytes(PNG)
    (folder / NOTES).write_bytes(b"remember the milk\n")
    (tmp_path / "secret.png").write_bytes(PNG)
    os.symlink(tmp_path / "secret.png", folder / "link.png")  # a link out of the folder is not followed
    os.mkfifo(folder / "missing_dog.png")  # nor is anything but a plain file read (a FIFO would hang)
    result = _run(keys, tmp_path, "--parse-files", str(folder))
    files = result["files"]
    assert files["imported"] == 2 and files["bytes"] == len(PNG) + len(b"remember the milk\n")
    assert files["left_out"] == {"missing": 2, "unsafe_name": 1}
    assert set(files["names_left_out"]) == {"missing_dog.png", "../../../etc/passwd", "link.png"}

    photos = _photos(keys)
    cat, notes = photos["cat"]["image"], photos["notes"]["image"]
    assert cat["name"] == "cat.png" and cat["content_type"] == "image/png" and cat["size"] == len(PNG)
    assert notes["name"] == "notes.txt" and notes["content_type"].startswith("text/plain")
    assert _bytes(keys, cat["id"]) == PNG and _bytes(keys, notes["id"]) == b"remember the milk\n"
    for title in ("gone", "escape", "link"):
        assert "image" not in photos[title] or photos[title]["image"] is None, photos[title]
    schema = console_client_for(keys.owner).get(f"/api/v1/manage/projects/{keys.project.ref}/collections/photo")
    assert schema.json()["fields"]["image"]["type"] == "file"
    # One file per Parse name: the user's avatar is the same stored file; anyone may read it, as on Parse.
    users = key_client(keys.secret).get("/api/v1/collections/users/documents").json()["results"]
    assert users[0]["avatar"]["id"] == cat["id"]
    public = key_client(keys.publishable).get(f"/api/v1/files/{cat['id']}/content")
    assert public.status_code == 200
    # Through the Parse face the field reads as a Parse File with a URL that serves the bytes.
    from tests.parse.conftest import ParseClient

    parse = ParseClient(keys.project.ref, master_key=keys.secret)
    got = parse.get(f"classes/Photo/{photos['cat']['id']}").json()
    assert got["image"]["__type"] == "File" and got["image"]["name"].endswith("_cat.png") and got["image"]["url"]


def test_limits_of_the_project_apply_and_a_refused_file_is_counted(make_project, tmp_path):
    from basalt.projects.project_settings import update_settings

    keys = make_project("Parse files limits")
    update_settings(keys.project, {"files": {"max_size": 100, "allowed_types": ["image/*"]}})
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / CAT).write_bytes(PNG)  # over 100 bytes
    (folder / NOTES).write_bytes(b"small text")  # not an image
    result = _run(keys, tmp_path, "--parse-files", str(folder))
    assert result["files"]["imported"] == 0
    assert result["files"]["left_out"] == {"too_large": 1, "type_not_allowed": 1, "missing": 2, "unsafe_name": 1}
    assert "image" not in _photos(keys)["cat"]


def test_without_a_files_source_file_fields_keep_their_urls(make_project, tmp_path):
    keys = make_project("Parse URLs")
    result = _run(keys, tmp_path)
    assert "files" not in result
    assert _photos(keys)["cat"]["image"] == f"https://parse.example.com/files/app/{CAT}"


class _Files(http.server.BaseHTTPRequestHandler):
    served: dict[str, bytes] = {}
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        name = self.path.rsplit("/", 1)[-1]
        if name == "missing_dog.png":
            self.send_response(302)
            self.send_header("Location", "/files/app/" + CAT)
            self.end_headers()
            return
        body = self.served.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    _Files.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_file_bytes_fetched_from_an_allowed_host_only_by_name(make_project, tmp_path, file_server):
    keys = make_project("Parse files by URL")
    port = file_server.server_address[1]
    base = f"http://127.0.0.1:{port}/files/app/"
    _Files.served = {f"/files/app/{CAT}": PNG, "/private/admin": b"never fetched"}
    # The export's own URL points elsewhere on the server: it must never be asked for.
    path = tmp_path / "export.zip"
    path.write_bytes(as_zip(_export(evil_url=f"http://127.0.0.1:{port}/private/admin")))
    out = StringIO()
    flags = ["--parse-files-url", base, "--parse-files-allow-host", "127.0.0.1"]
    call_command(
        "import_project", "--ref", keys.project.ref, "--input", str(path), "--format", "parse", "--quiet", *flags,
        stdout=out,
    )  # fmt: skip
    files = json.loads(out.getvalue())["files"]
    # The notes file is not on the server (404); the dog's answer is a redirect, not followed.
    assert files["imported"] == 1 and files["left_out"] == {"missing": 3, "unsafe_name": 1}, files
    assert "/private/admin" not in _Files.seen and all(p.startswith("/files/app/") for p in _Files.seen)
    assert _Files.seen.count(f"/files/app/{CAT}") == 1  # the redirect's target was not fetched
    cat = _photos(keys)["cat"]["image"]
    assert _bytes(keys, cat["id"]) == PNG


def test_a_files_url_on_a_host_not_allowed_is_refused_before_anything_is_read(make_project, tmp_path, file_server):
    keys = make_project("Parse files refused")
    port = file_server.server_address[1]
    for flags in (
        ["--parse-files-url", f"http://127.0.0.1:{port}/files/app/"],
        ["--parse-files-url", f"http://127.0.0.1:{port}/files/app/", "--parse-files-allow-host", "example.com"],
        ["--parse-files-url", "file:///etc/", "--parse-files-allow-host", ""],
        ["--parse-files", str(tmp_path / "nowhere")],
    ):
        with pytest.raises(CommandError) as refused:
            _run(keys, tmp_path, *flags)
        error = json.loads(str(refused.value))["error"]
        assert error["code"] == "validation_failed" and "files" in error["details"], flags
    assert _Files.seen == []
    collections = console_client_for(keys.owner).get(f"/api/v1/manage/projects/{keys.project.ref}/collections/photo")
    assert collections.status_code == 404  # nothing imported

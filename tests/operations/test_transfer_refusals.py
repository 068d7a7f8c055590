"""Import refusals (API.md §12, hostile input): non-empty projects, damaged, cut, newer, traversal, links,
decompression bombs, oversized headers; each a clear JSON error with nothing half-imported."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib

import orjson
import pytest
from django.core.management import CommandError, call_command

from basalt.operations import archive, importing
from tests.conftest import body_of, console_client_for
from tests.operations.conftest import POSTS, key_client, seed_project

pytestmark = pytest.mark.django_db(transaction=True)


def tar_gz(entries: list[tuple[str, bytes] | tarfile.TarInfo], **pax) -> bytes:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar,
    ):
        for item in entries:
            if isinstance(item, tarfile.TarInfo):
                tar.addfile(item)
                continue
            name, data = item
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if pax:
                info.pax_headers = pax
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def manifest(version: int = 1) -> tuple[str, bytes]:
    return archive.MANIFEST, orjson.dumps({"format": archive.FORMAT, "version": version, "source": {"ref": "x"}})


def post_import(console, ref: str, data: bytes):
    return console.generic("POST", f"/api/v1/manage/projects/{ref}/imports", data, content_type="application/gzip")


def failed_with(console, ref: str, data: bytes) -> dict:
    answer = post_import(console, ref, data)
    assert answer.status_code == 202, answer.content
    status = console.get(answer.json()["url"]).json()
    assert status["status"] == "failed", status
    return status["error"]


@pytest.fixture
def target(make_project):
    keys = make_project("Target")
    keys.console = console_client_for(keys.owner)
    return keys


def assert_untouched(keys, storage) -> None:
    assert not any(importing.project_contents(keys.project).values())
    root = storage.root if hasattr(storage, "root") else None
    if root is not None:
        assert not list((root / f"p{keys.project.pk}").rglob("*")) if (root / f"p{keys.project.pk}").exists() else True


@pytest.fixture
def exported(make_project):
    """A real archive of a seeded project (then deleted, so its ids are free)."""
    keys = make_project("Source")
    seeded = seed_project(keys, n_posts=30)
    answer = seeded.console.post(f"{seeded.base}/exports")
    status = seeded.console.get(answer.json()["url"]).json()
    data = body_of(seeded.console.get(status["download_url"]))
    seeded.console.delete(seeded.base, {"confirm": keys.project.name}, format="json")
    return data


def test_a_project_with_data_is_refused_before_the_upload_is_kept(target):
    key_client(target.secret).post(
        "/api/v1/auth/signup", {"email": "a@example.com", "password": "x" * 12}, format="json"
    )
    console_client_for(target.owner).post(
        f"/api/v1/manage/projects/{target.project.ref}/collections", POSTS, format="json"
    )
    answer = post_import(target.console, target.project.ref, b"anything")
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "project_not_empty"
    assert error["details"]["contents"]["collections"] == 1


def test_only_admins_import_and_export(target, make_account):
    from basalt.projects.services import join_project

    developer = make_account()
    join_project(target.project, developer, "developer")
    console = console_client_for(developer)
    assert post_import(console, target.project.ref, b"x").status_code == 403
    assert console.post(f"/api/v1/manage/projects/{target.project.ref}/exports").status_code == 403


def test_random_bytes_and_plain_json_are_not_archives(target, archive_storage):
    error = failed_with(target.console, target.project.ref, b"\x00" * 10 + b"not gzip at all")
    assert error["code"] == "invalid_archive" and error["details"]["reason"] == "corrupt"
    error = failed_with(target.console, target.project.ref, gzip.compress(b"{}"))
    assert error["code"] == "invalid_archive"
    assert_untouched(target, archive_storage)


def test_a_cut_archive_imports_nothing(target, exported, archive_storage):
    for cut in (len(exported) // 3, len(exported) - 40):
        error = failed_with(target.console, target.project.ref, exported[:cut])
        assert error["code"] == "invalid_archive", error
        assert error["details"]["reason"] in ("corrupt", "truncated"), error
        assert_untouched(target, archive_storage)


def test_an_archive_without_its_end_record_is_truncated(target):
    data = tar_gz([manifest(), ("settings.json", b"{}"), ("collections.json", b"[]")])
    error = failed_with(target.console, target.project.ref, data)
    assert error["details"]["reason"] == "truncated"


def test_counts_that_do_not_match_the_end_record_are_refused(target):
    end = orjson.dumps({"counts": {"documents": 5}})
    data = tar_gz([manifest(), ("settings.json", b"{}"), ("collections.json", b"[]"), ("end.json", end)])
    error = failed_with(target.console, target.project.ref, data)
    assert error["details"]["reason"] == "truncated" and error["details"]["part"] == "documents"


def test_an_archive_from_a_newer_format_is_refused_with_the_versions(target):
    error = failed_with(target.console, target.project.ref, tar_gz([manifest(version=99)]))
    assert error["code"] == "unsupported_archive_version"
    assert error["details"] == {"reason": "newer_version", "version": 99, "supported": archive.VERSION}


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "documents/../../x.jsonl", "blobs/..\\x"])
def test_path_traversal_entries_are_refused(target, name):
    error = failed_with(target.console, target.project.ref, tar_gz([manifest(), (name, b"x")]))
    assert error["code"] == "invalid_archive"
    assert error["details"]["reason"] in ("unsafe_path", "unexpected_entry")
    assert error["details"]["entry"] == name


def test_links_and_devices_are_refused(target):
    link = tarfile.TarInfo("blobs/abc")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    error = failed_with(target.console, target.project.ref, tar_gz([manifest(), link]))
    assert error["details"]["reason"] == "unsafe_entry"


def test_a_declared_size_past_the_limit_is_a_bomb(target, settings):
    settings.IMPORT_MAX_UNPACKED_BYTES = 1024 * 1024
    data = tar_gz([manifest(), ("settings.json", b" " * (2 * 1024 * 1024))])
    error = failed_with(target.console, target.project.ref, data)
    assert error["details"]["reason"] == "bomb"


def test_a_small_archive_unpacking_to_gigabytes_is_a_bomb(target):
    # 96 MiB of blank lines in one entry compress ~1000:1; the import stops at the ratio, long before the end.
    zeros = zlib.compressobj(9, zlib.DEFLATED, 31)
    header = tarfile.TarInfo("documents/000001.jsonl")
    header.size = 96 * 1024 * 1024
    head = tar_gz([manifest(), ("settings.json", b"{}"), ("collections.json", b"[]")])
    # Re-pack: manifest entries, then the big header and zero data, streamed through one gzip member.
    raw = gzip.decompress(head).rstrip(b"\0")  # no end-of-archive blocks: the entries continue
    raw += b"\0" * (-len(raw) % tarfile.BLOCKSIZE)
    body = zeros.compress(raw + header.tobuf(tarfile.PAX_FORMAT))
    chunk = b" " * (1024 * 1024 - 1) + b"\n"  # blank 1 MiB lines: no line limit applies, only the ratio
    for _ in range(96):
        body += zeros.compress(chunk)
    body += zeros.flush()
    assert len(body) < 1024 * 1024
    error = failed_with(target.console, target.project.ref, body)
    assert error["details"]["reason"] == "bomb", error


def test_an_oversized_tar_header_is_refused_before_it_is_read(target):
    data = tar_gz([manifest(), ("settings.json", b"{}")], comment="x" * (2 * 1024 * 1024))
    error = failed_with(target.console, target.project.ref, data)
    assert error["details"]["reason"] == "bomb"


def test_a_valid_entry_ending_just_before_a_mebibyte_is_not_taken_for_an_oversized_header():
    # The reader once counted its own 1 MiB read-ahead as header bytes: a valid archive whose entry ended
    # a few KiB before a MiB boundary was refused as a bomb (met by a real export of 100,000 documents).
    first = b"[1]\n" * ((2 * 1024 * 1024 - 5120) // 4)
    data = tar_gz(
        [manifest(), ("settings.json", b"{}"), ("collections.json", b"[]"), ("members/000001.jsonl", first),
         ("members/000002.jsonl", b"[1]\n" * 600_000), (archive.END, b"{}")]
    )  # fmt: skip
    rows = 0
    for entry in archive.ArchiveReader(io.BytesIO(data)):
        if entry.part == "members":
            rows += sum(1 for _ in entry.rows())
        else:
            entry.json()
    assert rows == len(first) // 4 + 600_000


def with_last_document(exported: bytes, change) -> bytes:
    """The archive with `change(row)` applied to its last document row."""
    raw = tarfile.open(fileobj=io.BytesIO(gzip.decompress(exported)), mode="r:")
    entries = []
    for member in raw.getmembers():
        data = raw.extractfile(member).read()
        if member.name.startswith("documents/"):
            lines = data.splitlines()
            row = json.loads(lines[-1])
            change(row)
            lines[-1] = json.dumps(row).encode()
            data = b"\n".join(lines) + b"\n"
        entries.append((member.name, data))
    return tar_gz(entries)


def test_hostile_rows_are_refused_and_nothing_stays(target, exported, archive_storage):
    # A valid archive whose one document row carries a non-object ACL: refused after users and files went in.
    hostile = with_last_document(exported, lambda row: row.update(acl=["not", "an", "object"]))
    error = failed_with(target.console, target.project.ref, hostile)
    assert error["details"]["reason"] == "invalid_row", error
    assert_untouched(target, archive_storage)
    # The unchanged archive then imports (the failed attempt left nothing in the way).
    answer = post_import(target.console, target.project.ref, exported)
    assert target.console.get(answer.json()["url"]).json()["status"] == "succeeded"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_past_year_1_or_9999_in_utc_is_refused_and_nothing_stays(target, exported, archive_storage, moment):
    # Year 0 or 10000 in UTC: SQLite's conversion raised OverflowError, and PostgreSQL took year 0 as
    # 1 BC, a row no read could load afterwards.
    hostile = with_last_document(exported, lambda row: row.update(created_at=moment))
    error = failed_with(target.console, target.project.ref, hostile)
    assert error["details"]["reason"] == "invalid_row" and "out of range" in error["message"], error
    assert_untouched(target, archive_storage)


def test_an_archive_repeating_a_document_id_is_refused_and_nothing_stays(target, exported, archive_storage):
    # PostgreSQL streams documents into a COPY without checking ids first: the primary key refuses the
    # repeat, the import tries once more with rewritten ids (the repeat stays one), and refuses.
    raw = tarfile.open(fileobj=io.BytesIO(gzip.decompress(exported)), mode="r:")
    entries = []
    for member in raw.getmembers():
        data = raw.extractfile(member).read()
        if member.name.startswith("documents/"):
            lines = data.splitlines()
            data = b"\n".join([*lines, lines[0]]) + b"\n"
        elif member.name == archive.END:
            end = json.loads(data)
            end["counts"]["documents"] += 1
            data = json.dumps(end).encode()
        entries.append((member.name, data))
    error = failed_with(target.console, target.project.ref, tar_gz(entries))
    assert error["details"]["reason"] == "invalid_row" and "conflicting rows" in error["message"], error
    assert_untouched(target, archive_storage)


def test_manage_py_round_trip_and_json_errors(make_project, tmp_path, exported):
    keys = make_project("Cli")
    path = tmp_path / "in.tar.gz"
    path.write_bytes(exported)
    out = io.StringIO()
    call_command("import_project", "--ref", keys.project.ref, "--input", str(path), "--quiet", stdout=out)
    assert json.loads(out.getvalue())["counts"]["documents"] >= 30
    again = tmp_path / "again.tar.gz"
    out = io.StringIO()
    call_command("export_project", "--ref", keys.project.ref, "--output", str(again), "--quiet", stdout=out)
    assert json.loads(out.getvalue())["counts"]["documents"] >= 30
    # Importing into the now non-empty project: the API's JSON error, from the shell.
    with pytest.raises(CommandError) as refused:
        call_command("import_project", "--ref", keys.project.ref, "--input", str(again), "--quiet")
    assert json.loads(str(refused.value))["error"]["code"] == "project_not_empty"
    out = io.StringIO()
    call_command("clone_project", "--ref", keys.project.ref, "--name", "Cli copy", stdout=out)
    cloned = json.loads(out.getvalue())
    assert cloned["counts"]["documents"] >= 30 and cloned["ids_rewritten"] is True

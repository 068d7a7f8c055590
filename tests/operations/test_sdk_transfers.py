"""The Python SDK's Management against a live `manage.py serve` (its own background worker):
export → download → import elsewhere → clone, and a refused import as a typed error."""

from __future__ import annotations

import pytest

try:
    from basalt_sdk import Client, ConflictError, Management, TransferFailed
except ImportError:  # a bare checkout without the editable SDK install
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sdk/python/src"))
    from basalt_sdk import Client, ConflictError, Management, TransferFailed

from tests.contract import live

PASSWORD = "an sdk passphrase 42"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = live.start(tmp_path_factory.mktemp("transfers-live") / "data")
    try:
        yield running
    finally:
        live.stop(running)


def test_export_download_import_and_clone_with_the_sdk(server, tmp_path):
    source = live.make_project(server.url, "SDK source")
    live.create_collection(
        source, {"name": "notes", "fields": {"text": {"type": "string"}}, "permissions": {"find": ["authenticated"]}}
    )
    with Client(server.url, source.publishable) as app:
        app.sign_up("sdk@example.com", PASSWORD)
    with Client(server.url, source.secret) as admin:
        for i in range(25):
            admin.collection("notes").create({"text": f"note {i}", "acl": {"*": {"read": True}}})

    with Management(server.url, source.owner_token) as manage:
        done = manage.export_project(source.ref, timeout=120)
        assert done["status"] == "succeeded" and done["progress"]["counts"]["documents"] >= 26
        assert [e["id"] for e in manage.list_exports(source.ref)] == [done["id"]]
        archive = manage.download_export(source.ref, done["id"], tmp_path / "backup.basalt.tar.gz")
        assert archive.read_bytes()[:2] == b"\x1f\x8b" and archive.stat().st_size == done["size"]

        target = live.make_project(server.url, "SDK target")
        # The target belongs to another console account: import with its own session.
        with Management(server.url, target.owner_token) as other:
            imported = other.import_project(target.ref, archive, timeout=120)
            assert imported["status"] == "succeeded"
            # The project has data now: refused before the upload is kept (409, not a failed job).
            with pytest.raises(ConflictError) as refused:
                other.import_project(target.ref, archive, timeout=60)
            assert refused.value.code == "project_not_empty"
        copy = manage.clone_project(source.ref, "SDK copy", timeout=120)
        assert copy["status"] == "succeeded" and copy["progress"]["ids_rewritten"] is True

    for key in (target.publishable,):
        with Client(server.url, key) as app:
            app.sign_in("sdk@example.com", PASSWORD)
            assert len(app.collection("notes").find(limit=100).results) == 25


def test_a_damaged_archive_is_a_typed_failure(server):
    project = live.make_project(server.url, "SDK damaged")
    with Management(server.url, project.owner_token) as manage, pytest.raises(TransferFailed) as failed:
        manage.import_project(project.ref, b"\x1f\x8b\x08\x00 not really gzip", timeout=60)
    assert failed.value.code == "invalid_archive" and failed.value.details["reason"] == "corrupt"

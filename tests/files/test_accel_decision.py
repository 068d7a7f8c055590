"""When Basalt hands a download to the front proxy (FILES_ACCEL_REDIRECT), in process on this pass's
storage: only a streamed local answer, only when the proxy asks, never under `serve`, never on S3."""

from __future__ import annotations

import pytest

from basalt.core.wsgi_bridge import EMBEDDED_SERVER
from tests.files.conftest import STORAGE, content_of, upload

pytestmark = pytest.mark.django_db
BIG = bytes(range(256)) * 1200  # 300 KiB: streamed, not answered whole
ASKS = {"HTTP_X_SENDFILE_TYPE": "X-Accel-Redirect"}


@pytest.fixture
def accel(settings):
    settings.FILES_ACCEL_REDIRECT = "/_basalt/files"


def _stored(client, data=BIG, name="big.bin"):
    answer = upload(client, data, name=name)
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_streamed_local_download_is_named_for_the_proxy_with_basalt_s_headers(secret_client, accel, file_storage):
    row = _stored(secret_client)
    answer = secret_client.get(row["url"], **ASKS)
    if STORAGE == "s3":
        assert "X-Accel-Redirect" not in answer and content_of(answer) == BIG
        return
    assert answer.status_code == 200 and content_of(answer) == b""
    assert answer["X-Accel-Redirect"].startswith("/_basalt/files/p") and row["id"] in answer["X-Accel-Redirect"]
    relative = answer["X-Accel-Redirect"].removeprefix("/_basalt/files/")
    assert (file_storage.root / relative).read_bytes() == BIG  # the key, relative to the folder
    assert answer["X-Basalt-Accel-Range"] == ""
    assert answer["ETag"] == f'"{row["sha256"]}"' and answer["Content-Type"] == "application/octet-stream"
    assert answer["Content-Disposition"].startswith("attachment;") and answer["X-Content-Type-Options"] == "nosniff"

    ranged = secret_client.get(row["url"], HTTP_RANGE="bytes=10-19", **ASKS)
    assert ranged.status_code == 206 and ranged["X-Basalt-Accel-Range"] == "bytes=10-19"
    assert ranged["Content-Range"] == f"bytes 10-19/{len(BIG)}"
    # Decisions stay Basalt's: 304 and 416 are answered here, not handed over.
    assert secret_client.get(row["url"], HTTP_IF_NONE_MATCH=answer["ETag"], **ASKS).status_code == 304
    refused = secret_client.get(row["url"], HTTP_RANGE=f"bytes={len(BIG)}-", **ASKS)
    assert refused.status_code == 416 and "X-Accel-Redirect" not in refused


@pytest.mark.parametrize(
    "extra",
    [{}, {"HTTP_X_SENDFILE_TYPE": "X-Sendfile"}, {**ASKS, EMBEDDED_SERVER: True}],
    ids=["proxy did not ask", "another sendfile type", "under serve"],
)
def test_otherwise_basalt_sends_the_bytes_itself(secret_client, accel, extra):
    row = _stored(secret_client)
    answer = secret_client.get(row["url"], **extra)
    assert "X-Accel-Redirect" not in answer and content_of(answer) == BIG


def test_small_files_and_a_setting_left_off_are_answered_here(secret_client, settings):
    row = _stored(secret_client)
    assert "X-Accel-Redirect" not in secret_client.get(row["url"], **ASKS)
    settings.FILES_ACCEL_REDIRECT = "/_basalt/files"
    small = _stored(secret_client, b"tiny body", "small.txt")
    answer = secret_client.get(small["url"], **ASKS)
    assert "X-Accel-Redirect" not in answer and content_of(answer) == b"tiny body"


def test_a_stored_key_outside_the_folder_is_never_named(secret_client, accel, file_storage):
    if STORAGE == "s3":
        pytest.skip("local storage only")
    from basalt.files.models import File

    row = _stored(secret_client)
    File.objects.filter(pk=row["id"]).update(storage_key="p1/../../outside")
    # A key no upload writes (a damaged row): the server's fault, never a path for the proxy.
    answer = secret_client.get(row["url"], **ASKS)
    assert answer.status_code == 500 and "X-Accel-Redirect" not in answer
    assert answer.json()["error"]["code"]


@pytest.mark.parametrize("value", ["_basalt/files", "/a b", "/x?y", "/../x", "/a//b"])
def test_a_bad_prefix_stops_the_start(value, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "FILES_ACCEL_REDIRECT": value, "BASALT_DATA_DIR": str(tmp_path), "PYTHONPATH": "platform"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", "import basalt.settings"], env=env, cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0 and "FILES_ACCEL_REDIRECT must be a path like" in done.stderr

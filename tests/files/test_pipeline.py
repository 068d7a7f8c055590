"""Hashing and storing beside the reading (files/pipeline.py): pieces in order, a failure of the
storage raised to the request and the upload left with no row and no object."""

from __future__ import annotations

import hashlib
import os
import threading

import pytest

from basalt.files.models import File
from basalt.files.pipeline import Pipeline
from basalt.files.storage import CHUNK
from tests.files.conftest import STORAGE, content_of, upload
from tests.files.test_upload import stored_objects


def _pipeline_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "files-pipeline"]


def test_pieces_are_worked_in_order_and_close_waits_for_them():
    done: list[bytes] = []
    pipeline = Pipeline(done.append, depth=2)
    pieces = [bytes([n]) * 100 for n in range(40)]
    for piece in pieces:
        pipeline.put(piece)
    pipeline.close()
    assert done == pieces and not _pipeline_threads()


def test_a_failure_is_raised_to_the_request_thread_and_later_pieces_are_skipped():
    done: list[bytes] = []

    def work(piece: bytes) -> None:
        if piece == b"bad":
            raise OSError("No space left on device")
        done.append(piece)

    pipeline = Pipeline(work, depth=1)
    pipeline.put(b"good")
    pipeline.put(b"bad")
    with pytest.raises(OSError):
        for _ in range(10):
            pipeline.put(b"after")
        pipeline.close()
    pipeline.discard()  # what Ingest.abort does after the failure
    assert done == [b"good"] and not _pipeline_threads()


def test_each_work_runs_on_its_own_thread_beside_the_others():
    """Hashing and writing overlap: the hashing of a piece does not wait for its writing to end."""
    written = threading.Event()
    hashed: list[bytes] = []
    stored: list[bytes] = []

    def hash_work(piece: bytes) -> None:
        assert written.wait(10), "the writing never ran beside the hashing"
        hashed.append(piece)

    def write_work(piece: bytes) -> None:
        stored.append(piece)
        written.set()

    pipeline = Pipeline(hash_work, write_work, depth=2)
    pieces = [bytes([n]) * 100 for n in range(20)]
    for piece in pieces:
        pipeline.put(piece)
    pipeline.close()
    assert hashed == pieces and stored == pieces and not _pipeline_threads()


def test_a_failure_of_one_work_stops_them_all():
    hashed: list[bytes] = []

    def write_work(piece: bytes) -> None:
        if piece == b"bad":
            raise OSError("No space left on device")

    pipeline = Pipeline(hashed.append, write_work, depth=1)
    with pytest.raises(OSError):
        for piece in [b"good", b"bad", *[b"after"] * 20]:
            pipeline.put(piece)
        pipeline.close()
    pipeline.discard()
    assert hashed.count(b"after") < 20 and not _pipeline_threads()


def test_discard_stops_without_raising():
    pipeline = Pipeline(lambda piece: None)
    pipeline.put(b"x")
    pipeline.discard()
    assert not _pipeline_threads()


@pytest.mark.django_db
def test_a_multi_piece_upload_is_exact(secret_client):
    data = os.urandom(3 * CHUNK + 99)
    stored = upload(secret_client, data, name="big.bin").json()
    assert stored["sha256"] == hashlib.sha256(data).hexdigest()
    assert content_of(secret_client.get(stored["url"])) == data
    assert not _pipeline_threads()


@pytest.mark.django_db
@pytest.mark.skipif(STORAGE != "local", reason="fails the local writer")
def test_a_storage_failure_mid_upload_leaves_no_row_and_no_object(secret_client, file_storage, project, monkeypatch):
    from basalt.files.storage.local import LocalWriter

    real_write, writes = LocalWriter.write, []

    def failing_write(self, chunk):
        writes.append(len(chunk))
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        real_write(self, chunk)

    monkeypatch.setattr(LocalWriter, "write", failing_write)
    answer = upload(secret_client, os.urandom(4 * CHUNK), name="big.bin")
    assert answer.status_code != 201
    assert File.objects.count() == 0
    assert stored_objects(file_storage, project.project.pk) == []
    assert not _pipeline_threads()


@pytest.mark.django_db
def test_a_failing_body_read_leaves_no_thread_and_no_object(secret_client, file_storage, project, monkeypatch):
    """Whatever the server's body stream raises (not only a lost connection), the upload is aborted."""
    from django.test.client import FakePayload

    real_read, reads = FakePayload.read, []

    def failing_read(payload, *args):
        reads.append(1)
        if len(reads) == 3:
            raise RuntimeError("the server's body stream broke")
        return real_read(payload, *args)

    monkeypatch.setattr(FakePayload, "read", failing_read)
    answer = upload(secret_client, os.urandom(4 * CHUNK), name="big.bin")
    assert answer.status_code == 500
    assert File.objects.count() == 0
    assert stored_objects(file_storage, project.project.pk) == []
    assert not _pipeline_threads()

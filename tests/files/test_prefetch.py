"""Reading ahead of S3 on a thread (files/storage/prefetch.py): the same bytes in order, errors
raised to the reader, and a download closed early (the client went away) stops the thread and
releases the source."""

from __future__ import annotations

import os
import threading

import pytest

from basalt.files.storage import CHUNK
from basalt.files.storage.prefetch import read_ahead
from tests.files.conftest import STORAGE, upload


def _ahead_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "files-read-ahead"]


def test_chunks_arrive_in_order_and_the_source_is_closed():
    closed = []
    chunks = [bytes([n]) * 10 for n in range(50)]
    assert list(read_ahead(iter(chunks), lambda: closed.append(True), depth=2)) == chunks
    assert closed == [True] and not _ahead_threads()


def test_an_error_of_the_source_reaches_the_reader():
    def failing():
        yield b"first"
        raise ConnectionError("the bucket went away")

    reader = read_ahead(failing(), lambda: None)
    assert next(reader) == b"first"
    with pytest.raises(ConnectionError):
        next(reader)
    assert not _ahead_threads()


def test_closing_early_stops_the_thread_and_releases_the_source():
    closed, produced = [], []

    def endless():
        while True:
            produced.append(1)
            yield b"x" * 1024

    reader = read_ahead(endless(), lambda: closed.append(True), depth=3)
    assert next(reader) == b"x" * 1024
    reader.close()
    assert closed == [True] and not _ahead_threads()
    assert len(produced) <= 1 + 3 + 1  # the one read, the queue, and one waiting to be queued


@pytest.mark.django_db
@pytest.mark.skipif(STORAGE != "s3", reason="S3 only (the PostgreSQL pass, or FILES_TEST_STORAGE=s3)")
def test_a_large_s3_download_and_its_ranges_are_exact(secret_client, file_storage):
    from basalt.files.models import File

    data = os.urandom(3 * CHUNK + 12345)
    stored = upload(secret_client, data, name="big.bin").json()
    key = File.objects.get(pk=stored["id"]).storage_key
    assert b"".join(file_storage.read(key)) == data
    assert b"".join(file_storage.read(key, CHUNK - 5, 3 * CHUNK + 4)) == data[CHUNK - 5 : 3 * CHUNK + 5]
    partial = file_storage.read(key)
    next(partial)
    partial.close()
    assert not _ahead_threads()
    answer = secret_client.get(f"/api/v1/files/{stored['id']}/content")
    assert b"".join(answer.streaming_content) == data
    ranged = secret_client.get(f"/api/v1/files/{stored['id']}/content", HTTP_RANGE=f"bytes={CHUNK}-")
    assert ranged.status_code == 206
    assert b"".join(ranged.streaming_content) == data[CHUNK:]

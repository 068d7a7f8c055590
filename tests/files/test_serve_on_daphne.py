"""The live upload and download tests of `serve` against `serve --http-server daphne` (its default
is granian): daphne's own streaming path (core.server.EdgeRequest), its flow control and its
sendfile(2) downloads stay covered end to end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract import live

from .test_serve_download import (  # noqa: F401 (the same tests, collected here against this module's `server`)
    test_a_client_that_leaves_mid_download_does_not_disturb_the_next_one,
    test_whole_ranged_and_head_downloads_are_exact_on_one_keep_alive_connection,
)
from .test_serve_memory import (  # noqa: F401
    test_a_download_to_a_slow_reader_is_not_buffered_whole_in_the_server,
    test_a_large_simple_upload_does_not_grow_the_server_by_its_size,
)
from .test_serve_stream import (  # noqa: F401
    project,
    test_a_chunked_upload_cut_short_leaves_no_file_and_no_object,
    test_a_client_that_hangs_up_mid_body_leaves_no_file_and_no_object,
    test_a_refused_upload_is_answered_while_the_client_still_sends_and_the_connection_goes_on,
    test_a_streamed_upload_stores_the_exact_bytes_with_their_sha256,
)

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory, weed) -> Iterator[live.Server]:
    overrides = dict(weed.env) if weed is not None else {}
    data_dir = tmp_path_factory.mktemp("files-daphne") / "data"
    with live.running(data_dir, overrides, args=("--http-server", "daphne")) as server:
        yield server


@pytest.fixture(scope="module")
def keys(server):
    return live.make_project(server.url, "Files on daphne")

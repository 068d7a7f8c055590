"""Realtime through `manage.py serve --http-server daphne` (the default is granian): WebSocket
subscriptions and SSE streams are daphne's here; the same tests as under the default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract import live

from .test_access import test_revoked_key_closes_the_connection  # noqa: F401 (collected here, against `server`)
from .test_fanout_wire import (  # noqa: F401 (daphne's sockets are written straight to: wire.py)
    test_a_fan_out_gives_each_subscriber_exactly_its_own_view,
    test_a_subscriber_that_stops_reading_gets_everything_in_order_once_it_reads_again,
)
from .test_sse import (  # noqa: F401
    test_sse_refuses_bad_keys_and_tokens_with_json_errors,
    test_sse_stream_carries_the_same_events_and_resumes_with_last_event_id,
)
from .test_websocket import (  # noqa: F401
    test_events_follow_the_where_in_commit_order_with_seq,
    test_hostile_input_answers_errors_and_the_connection_stays_usable,
    test_keys_and_tokens_are_checked_at_the_door,
    test_snapshot_then_events_without_gap_or_duplicate,
)

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[live.Server]:
    started = live.start(tmp_path_factory.mktemp("realtime-daphne") / "data", args=("--http-server", "daphne"))
    try:
        yield started
    finally:
        live.stop(started)

"""Realtime through `manage.py serve --http-server granian`: WebSocket subscriptions and SSE streams
are granian's ASGI WebSockets and streamed responses here; the same tests as under daphne."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract import live

from .test_sse import (  # noqa: F401 (collected here against this module's `server`)
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
    started = live.start(tmp_path_factory.mktemp("realtime-granian") / "data", args=("--http-server", "granian"))
    try:
        yield started
    finally:
        live.stop(started)

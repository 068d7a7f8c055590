"""How committed rows travel from the writers to every realtime process in production: one Redis
pub/sub channel per project, `PUBLISH <prefix>.p<project> <JSON array of rows>`.

A group send through the channel layer cost 2-4 Redis round trips, channels_redis' sorted-set
bookkeeping and msgpack per create, even with no listener anywhere; a PUBLISH is one command,
which Redis drops at once when nobody is subscribed. What pub/sub does not give (delivery to a
hub that was disconnected) the change log does: each hub reads a missing row from the log, and a
once-a-second poll of project positions catches up a hub that heard nothing. So a lost
announcement costs latency, never an event.

The payload crosses a trust boundary for the hubs (anything that may PUBLISH on the Redis can
write on these channels): `decode` accepts only the shape `encode_row` writes, within the size
`announcements` keeps to, and refuses everything else with ValueError.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import queue
import threading
import time
from typing import Any

import orjson
import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

from basalt.documents.changefeed import Change

logger = logging.getLogger("basalt.realtime")

# Rows larger than this travel as a bare position; each hub reads them from the change log.
MAX_INLINE_BYTES = 256 * 1024
# Rows of one project queued together travel as one message of at most this many rows (and
# MAX_INLINE_BYTES of rows).
MAX_ROWS_PER_MESSAGE = 100
# What `announcements` can write: the rows, their commas and the brackets. Larger is not ours.
MAX_PAYLOAD_BYTES = MAX_INLINE_BYTES + MAX_ROWS_PER_MESSAGE + 2
# Rows the publisher takes off its queue per round: their messages go in one pipelined write.
MAX_ROWS_PER_ROUND = 10 * MAX_ROWS_PER_MESSAGE
# Rows waiting for the publisher past this are dropped (Redis unreachable or slower than the
# writes): memory stays bounded, and the hubs' poll reads them from the change log.
MAX_QUEUED = 100_000
# After a failed send the publisher drops what comes for this long instead of waiting on Redis
# again for every batch; then it reconnects.
RETRY_SECONDS = 1.0
# Redis answers in well under a millisecond on a sane network; a publisher stuck longer is better
# off dropping the batch (the poll covers it) than holding every later row.
SOCKET_SECONDS = 2.0
WARN_EVERY_SECONDS = 30.0
ROW_TYPES = frozenset({"create", "update", "delete"})


@functools.cache
def group_prefix() -> str:
    """Channel (and channel-layer group) names start with the database's identity: installations (or
    test servers) that share a Redis but not a database never hear each other's project ids."""
    db = settings.DATABASES["default"]
    identity = f"{db.get('HOST')}:{db.get('PORT')}/{db.get('NAME')}"
    return f"rt.{hashlib.sha256(identity.encode()).hexdigest()[:10]}"


def project_channel(project_id: int) -> str:
    return f"{group_prefix()}.p{project_id}"


def redis_url() -> str:
    """The channel layer's Redis (its first host): announcements and room traffic share one server."""
    host = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]
    return host if isinstance(host, str) else host["address"]


class Warnings:
    """At most one warning per kind every WARN_EVERY_SECONDS, with how many were kept quiet: an
    outage must not flood the log. Never the Redis URL (it may carry a password)."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.quiet: dict[str, int] = {}

    def warn(self, kind: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self.last.get(kind, -WARN_EVERY_SECONDS) < WARN_EVERY_SECONDS:
            self.quiet[kind] = self.quiet.get(kind, 0) + 1
            return
        self.last[kind] = now
        quiet = self.quiet.pop(kind, 0)
        logger.warning(message + (f" ({quiet} more like it not logged)" if quiet else ""), *args)


# --- the wire format ---------------------------------------------------------------------------------
def encode_row(change: Change) -> bytes:
    """A row as the hubs read it; one over MAX_INLINE_BYTES goes as a bare position (no data)."""
    fields = {
        "p": change.project_id,
        "s": change.seq,
        "c": change.collection,
        "d": change.document_id,
        "t": change.type,
        "b": change.before,
        "a": change.after,
        "r": change.row_id,
    }
    row = orjson.dumps(fields)
    if len(row) > MAX_INLINE_BYTES:
        fields["b"] = fields["a"] = None
        row = orjson.dumps(fields)
    return row


def entry(change: Change) -> tuple[str, bytes, Change]:
    """A row as `announcements` takes it: its channel, its encoding, the row."""
    return project_channel(change.project_id), encode_row(change), change


def announcements(queued: list[tuple[str, bytes, Change]]) -> list[tuple[str, bytes, list[Change]]]:
    """Queued rows as channel messages, in queue order: consecutive rows of one project go together,
    up to MAX_ROWS_PER_MESSAGE rows and MAX_INLINE_BYTES of rows (a larger row always fits alone:
    it was cut to a bare position); a row alone goes alone."""
    runs: list[tuple[str, list[bytes], list[Change], int]] = []
    for channel, row, change in queued:
        if runs and runs[-1][0] == channel and len(runs[-1][1]) < MAX_ROWS_PER_MESSAGE:
            _channel, rows, sent, total = runs[-1]
            if total + len(row) <= MAX_INLINE_BYTES:
                rows.append(row)
                sent.append(change)
                runs[-1] = (channel, rows, sent, total + len(row))
                continue
        runs.append((channel, [row], [change], len(row)))
    return [(channel, b"[" + b",".join(rows) + b"]", sent) for channel, rows, sent, _total in runs]


def decode(project_id: int, data: Any) -> list[Change]:
    """The rows of a message heard on `project_id`'s channel; ValueError for anything else."""
    if not isinstance(data, bytes) or len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError("not an announcement: too large or not bytes")
    rows = orjson.loads(data)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_ROWS_PER_MESSAGE:
        raise ValueError("not an announcement: not a list of 1-100 rows")
    return [_row(project_id, row) for row in rows]


def _row(project_id: int, row: Any) -> Change:
    if not isinstance(row, dict):
        raise ValueError("not a row")
    p, s, c, d, t, r = (row.get(k) for k in ("p", "s", "c", "d", "t", "r"))
    b, a = row.get("b"), row.get("a")
    if not (
        _is_int(p)
        and p == project_id
        and _is_int(s)
        and s > 0
        and isinstance(c, str)
        and isinstance(d, str)
        and t in ROW_TYPES
        and _is_int(r)
        and (b is None or isinstance(b, dict))
        and (a is None or isinstance(a, dict))
    ):
        raise ValueError("not a row of this project")
    return Change(p, s, c, d, t, b, a, r)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- the publisher -----------------------------------------------------------------------------------
class Publisher:
    """Announces rows from one background thread per process over one Redis connection, in the order
    they were handed over; several messages queued together go in one pipelined write.

    The writer's request only puts the row on a queue: it never waits for Redis."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = 0
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.connection: redis.connection.AbstractConnection | None = None
        self.url = ""
        self.down_until = 0.0
        self.warnings = Warnings()

    def send(self, change: Change) -> None:
        if self.pid != os.getpid():  # first use, or a forked worker: the parent's thread is not here
            self._start()
        if self.queue.qsize() >= MAX_QUEUED:
            self.warnings.warn("full", "realtime: announcement queue full; the hubs' poll covers the rows")
            return
        self.queue.put(change)

    def _start(self) -> None:
        with self.lock:
            if self.pid == os.getpid():
                return
            self.queue, self.connection, self.down_until = queue.SimpleQueue(), None, 0.0
            threading.Thread(target=self._run, args=(self.queue,), name="realtime-publisher", daemon=True).start()
            self.pid = os.getpid()

    def _run(self, rows: queue.SimpleQueue) -> None:
        while True:
            # Under a steady stream of writes, rows queue while a write is in flight: they go
            # together in the next one (one row alone goes as soon as it comes).
            taken = [rows.get()]
            while len(taken) < MAX_ROWS_PER_ROUND:
                try:
                    taken.append(rows.get_nowait())
                except queue.Empty:
                    break
            try:
                # Encoded here, not in the writer's thread: the request returns without it.
                self.publish(announcements([entry(change) for change in taken]))
            except Exception:  # this thread must outlive any one batch; the poll covers the rows
                logger.exception("realtime: announcing %s rows failed", len(taken))

    def publish(self, messages: list[tuple[str, bytes, list[Change]]]) -> bool:
        if time.monotonic() < self.down_until:
            return False
        try:
            reused = self.connection is not None
            try:
                self._send(messages)
            except redis.ConnectionError:
                if not reused:  # a fresh connection failed: Redis is away
                    raise
                # Redis may have closed an idle connection: one new one, once (a PUBLISH sent
                # twice is harmless, the hubs drop a seq they already have).
                self._close()
                self._send(messages)
            return True
        except (redis.RedisError, OSError) as exc:
            self._close()
            self.down_until = time.monotonic() + RETRY_SECONDS
            first = messages[0][2][0]
            self.warnings.warn(
                "send",
                "realtime: could not announce %s rows from seq %s of project %s (%s); the hubs' poll reads them",
                sum(len(sent) for _channel, _payload, sent in messages),
                first.seq,
                first.project_id,
                type(exc).__name__,
            )
            return False

    def _send(self, messages: list[tuple[str, bytes, list[Change]]]) -> None:
        """All the messages in one write, then their replies. On the connection itself, not through
        the client: redis-py's command path (pool, retries, instrumentation) cost 2.5x the CPU of
        the send and the read on this host (150 against 57 us per PUBLISH)."""
        url = redis_url()
        if self.connection is None or self.url != url:  # the URL changes only under tests' settings
            self._close()
            self.connection, self.url = _connect(url), url
        connection = self.connection
        commands = [("PUBLISH", channel, payload) for channel, payload, _sent in messages]
        connection.send_packed_command(connection.pack_commands(commands), check_health=False)
        for _command in commands:
            connection.read_response()

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.disconnect()


def _connect(url: str) -> redis.connection.AbstractConnection:
    pool = redis.ConnectionPool.from_url(
        url,
        socket_connect_timeout=SOCKET_SECONDS,
        socket_timeout=SOCKET_SECONDS,
        retry=Retry(NoBackoff(), 0),  # `publish` decides when to try again
        client_name="basalt-rt-publisher",
    )
    connection = pool.make_connection()  # the pool only reads the URL (TLS, password, database)
    connection.connect()
    return connection


publisher = Publisher()

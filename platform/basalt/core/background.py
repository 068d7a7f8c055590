"""Run Celery's worker and beat inside `manage.py serve`, and tell whether any worker consumes tasks.

The embedded default uses kombu's `memory://` transport, whose queues are per process: a
worker thread in the serving process consumes what request threads publish, so tasks keep
their real semantics (after-commit dispatch, retries with countdown, ETA, periodic jobs)
without a broker to install. Queued tasks do not survive a restart. With a real broker
(REDIS_URL) `serve` runs the same in-process worker on it unless `--no-worker` says a
separate `celery -A basalt worker` does (docker-compose's `worker` service). Tests and
one-shot commands keep running tasks eagerly.

Every worker, in-process or separate, writes a heartbeat into the shared cache, so /readyz and
`serve --no-worker` can say when nothing consumes the queue (index builds would stay pending).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from celery import Celery, bootsteps
from celery.beat import EmbeddedService

logger = logging.getLogger("basalt.background")
READY_TIMEOUT_SECONDS = 30
HEARTBEAT_KEY = "basalt:tasks:heartbeat"
HEARTBEAT_SECONDS = 15
# A worker is presumed gone after missing this many heartbeats' worth of time.
HEARTBEAT_STALE_SECONDS = 4 * HEARTBEAT_SECONDS


def in_process_broker(app: Celery) -> bool:
    """True when nothing outside this process could consume the queue (the embedded default)."""
    return str(app.conf.broker_url or "").startswith("memory://")


def broker_label(app: Celery) -> str:
    """The broker's scheme and host for messages, never its password."""
    url = str(app.conf.broker_url or "")
    parts = urlsplit(url)
    if parts.scheme == "memory":
        return "memory broker"
    host = parts.hostname or "localhost"
    return f"{parts.scheme} broker at {host}:{parts.port}" if parts.port else f"{parts.scheme} broker at {host}"


def record_heartbeat() -> None:
    from django.core.cache import cache

    try:
        cache.set(HEARTBEAT_KEY, time.time(), timeout=HEARTBEAT_STALE_SECONDS)
    except Exception:  # a cache outage must not stop the worker
        logger.warning("could not record the worker heartbeat", exc_info=True)


def tasks_consumed() -> bool:
    """True when tasks run inline, or some worker reported in within HEARTBEAT_STALE_SECONDS."""
    from django.core.cache import cache

    from basalt.celery import app

    if app.conf.task_always_eager:
        return True
    try:
        last = cache.get(HEARTBEAT_KEY)
    except Exception:
        return False
    return last is not None and time.time() - float(last) < HEARTBEAT_STALE_SECONDS


class Heartbeat(bootsteps.StartStopStep):
    """A worker bootstep: record a heartbeat now and every HEARTBEAT_SECONDS while consuming."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.timer_ref = None

    def start(self, worker):
        record_heartbeat()
        self.timer_ref = worker.timer.call_repeatedly(HEARTBEAT_SECONDS, record_heartbeat)

    def stop(self, worker):
        if self.timer_ref is not None:
            self.timer_ref.cancel()
            self.timer_ref = None


class EmbeddedWorker:
    """One solo Celery worker thread and an embedded beat thread, started and stopped with the server."""

    def __init__(self, app: Celery, schedule_file: Path) -> None:
        self.app = app
        self.schedule_file = schedule_file
        self.worker = None
        self.ready = threading.Event()
        self._worker_thread: threading.Thread | None = None
        self._beat = None

    def start(self) -> None:
        # From now on `.delay()` publishes to the in-memory queue instead of running inline.
        self.app.conf.task_always_eager = False
        self.app.conf.worker_hijack_root_logger = False
        self._worker_thread = threading.Thread(target=self._run_worker, name="celery-worker", daemon=True)
        self._worker_thread.start()
        if not self.ready.wait(READY_TIMEOUT_SECONDS) or self.worker is None:
            raise RuntimeError("the in-process Celery worker did not start")
        self.schedule_file.parent.mkdir(parents=True, exist_ok=True)
        self._beat = EmbeddedService(self.app, thread=True, schedule_filename=str(self.schedule_file))
        self._beat.start()

    def _run_worker(self) -> None:
        # The worker looks tasks up on the current app; a new thread starts with the default one.
        self.app.set_current()
        try:
            # `solo` runs one task at a time in this thread: Celery's `threads` pool started here
            # received tasks but never ran them. WorkController (unlike the `celery worker`
            # program) installs no signal handlers, so it may live outside the main thread.
            self.worker = self.app.WorkController(
                pool_cls="solo",
                concurrency=1,
                # Unique per process: several `serve` processes may share one Redis broker.
                hostname=f"embedded-{os.getpid()}@{socket.gethostname()}",
                without_heartbeat=True,
                without_gossip=True,
                without_mingle=True,
                loglevel=logging.INFO,
            )
            self.ready.set()
            self.worker.start()
        except Exception:
            logger.exception("in-process Celery worker stopped")
        finally:
            self.ready.set()

    def stop(self, timeout: float = 10) -> None:
        """Let the running task finish for up to `timeout` seconds, then give up on it.

        Queued tasks are dropped with the process (the memory broker keeps nothing); a warm
        Celery shutdown waits for the running task without limit, so it runs in a helper thread
        and Ctrl-C never hangs on a long task.
        """
        stopper = threading.Thread(target=self._stop, name="celery-stop", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            logger.warning("background task still running after %ss; stopping without it", timeout)

    def _stop(self) -> None:
        if self._beat is not None:
            self._beat.stop()
        if self.worker is not None:
            self.worker.stop()
        if self._worker_thread is not None:
            self._worker_thread.join()

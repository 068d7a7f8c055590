"""Background tasks whose effects the test can observe from outside the server process."""

import threading
import time
from pathlib import Path

from celery import shared_task


@shared_task
def slow_marker(path: str, seconds: float) -> None:
    time.sleep(seconds)
    Path(path).write_text(threading.current_thread().name)


@shared_task
def always_fails() -> None:
    raise RuntimeError("this task fails on purpose")

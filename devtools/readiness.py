"""Wait until a server process just started answers, or say why it never did."""

from __future__ import annotations

import subprocess
import time

import httpx


def wait_until_answering(
    url: str, process: subprocess.Popen, timeout: float, *, status: int | None = 200, interval: float = 0.2
) -> str | None:
    """Poll `url` until it answers with `status` (any answer when None): None once it does, else why
    not (the process exited, or `timeout` seconds passed). The caller adds its server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited with {process.returncode}"
        try:
            answer = httpx.get(url, timeout=2)
        except httpx.HTTPError:
            pass
        else:
            if status is None or answer.status_code == status:
                return None
        time.sleep(interval)
    return f"did not answer {url} within {timeout:.0f} s"

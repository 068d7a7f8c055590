"""POST one signed message with bounded time and bounded reading; never follow a redirect."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
from django.conf import settings

from basalt.hooks import ssrf

# What the delivery log keeps of a response, and the most ever read from one (a huge body is cut).
KEEP_BYTES = 2048
READ_LIMIT = 64 * 1024
USER_AGENT = "Basalt-Webhooks/1"


@dataclass
class Outcome:
    ok: bool
    status_code: int | None
    latency_ms: int
    response: str
    error: str


def client() -> httpx.Client:
    """One client per batch to one endpoint (keep-alive within the batch, never across hosts)."""
    seconds = settings.WEBHOOK_TIMEOUT_SECONDS
    return httpx.Client(
        timeout=httpx.Timeout(seconds, connect=min(5.0, seconds)),
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: the guard checked the address we connect to
        headers={"User-Agent": USER_AGENT},
    )


def post(http: httpx.Client, url: str, body: bytes, signed: dict[str, str]) -> Outcome:
    started = time.monotonic()
    try:
        target = ssrf.resolve(url)
    except ssrf.TargetRefused as exc:
        return Outcome(False, None, 0, "", str(exc)[:300])
    headers = {"Host": target.host_header, "Content-Type": "application/json", **signed}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    deadline = started + settings.WEBHOOK_TIMEOUT_SECONDS
    try:
        request = http.build_request("POST", target.connect_url, content=body, headers=headers, extensions=extensions)
        response = http.send(request, stream=True)
        try:
            kept = bytearray()
            read = 0
            for chunk in response.iter_raw():
                read += len(chunk)
                if len(kept) < KEEP_BYTES:
                    kept += chunk[: KEEP_BYTES - len(kept)]
                # A slow-loris receiver cannot hold the worker past the deadline, a huge one past 64 KiB.
                if read >= READ_LIMIT or time.monotonic() > deadline:
                    break
            status = response.status_code
        finally:
            response.close()
    except httpx.TimeoutException:
        return Outcome(False, None, _ms(started), "", "timed out")
    except httpx.HTTPError as exc:
        return Outcome(False, None, _ms(started), "", f"connection failed: {type(exc).__name__}")
    text = bytes(kept).decode("utf-8", errors="replace")
    if 300 <= status < 400:
        return Outcome(False, status, _ms(started), text, "redirects are not followed")
    return Outcome(200 <= status < 300, status, _ms(started), text, "" if status < 300 else f"HTTP {status}")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)

"""SECURITY.md T17: under 256 concurrent requests a server holds at most its pool of PostgreSQL connections.

Each server mode runs as a real process on a database of its own: `serve` (daphne, also the
`realtime` role) and granian over WSGI (the `web` role). Before the pool, `serve` opened a
connection per request thread and never closed it; a burst left dozens idle and then refused
every database of the cluster with "too many clients".
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from tests.contract import live

pytestmark = pytest.mark.live
postgres_only = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="connection pooling is PostgreSQL's"
)
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POOL_SIZE = 10  # settings.DATABASE_POOL_SIZE when the variable is unset
CONCURRENCY = 256
PASSWORD = "a long contract passphrase"


def connections_to(database: str) -> int:
    import psycopg

    admin = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [database]).fetchone()[0]


class PeakConnections:
    """Sample the database's connection count in the background while the load runs."""

    def __init__(self, database: str):
        self.database = database
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, connections_to(self.database))
            time.sleep(0.02)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join(timeout=10)


def burst(url: str, project: live.LiveProject, email: str) -> Counter:
    """256 requests at once: data-API reads, unknown keys and failed console sign-ins (each hits the database)."""

    async def one(client: httpx.AsyncClient, n: int) -> int:
        kind = n % 3
        if kind == 0:
            response = await client.get("/api/v1/project", headers={"X-API-Key": project.publishable})
        elif kind == 1:
            response = await client.get("/api/v1/project", headers={"X-API-Key": "pk_" + "x" * 43})
        else:
            response = await client.post(
                "/api/v1/manage/auth/jwt/create/", json={"email": email, "password": "wrong password"}
            )
        return response.status_code

    async def run() -> list[int]:
        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            return await asyncio.gather(*(one(client, n) for n in range(CONCURRENCY)))

    return Counter(asyncio.run(run()))


def console_account(url: str) -> str:
    email = f"pool-{os.getpid()}-{time.monotonic_ns()}@example.com"
    response = httpx.post(url + "/api/v1/manage/auth/users/", json={"email": email, "password": PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return email


# The server's defaults (no DATABASE_POOL_SIZE), cheap password hashing and no sign-in throttle, so
# every request of the burst reaches the database.
SERVER_ENV = {
    "DATABASE_POOL_SIZE": None,
    "REQUEST_THREADS": None,
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_COST_KIB": "1024",
}


def assert_bounded(url: str, database: str, log_tail=lambda: "") -> None:
    project = live.make_project(url, "Pool")
    email = console_account(url)
    for wave in (1, 2):  # a second wave shows no connection leaked out of the pool in the first
        with PeakConnections(database) as peak:
            try:
                statuses = burst(url, project, email)
            except httpx.TransportError as exc:  # a connection dropped: what the server said about it
                raise AssertionError(f"wave {wave}: {exc!r}\n--- server log ---\n{log_tail()}") from exc
        assert not [s for s in statuses if s >= 500], (wave, statuses)
        assert statuses[200] == len(range(0, CONCURRENCY, 3)), (wave, statuses)
        assert peak.peak <= DEFAULT_POOL_SIZE, (wave, peak.peak)
    assert connections_to(database) <= DEFAULT_POOL_SIZE


@postgres_only
def test_serve_keeps_postgresql_connections_within_its_pool(tmp_path):
    server = live.start(tmp_path / "data", SERVER_ENV)
    try:
        assert_bounded(server.url, server.database, server.log_tail)
    finally:
        live.stop(server)


@postgres_only
def test_granian_web_role_keeps_postgresql_connections_within_its_pool(tmp_path):
    """The production `web` server: granian's blocking threads come and go, the pool bounds them."""
    env, database = live.server_env(tmp_path / "data")
    env = {k: v for k, v in env.items() if k not in SERVER_ENV} | {k: v for k, v in SERVER_ENV.items() if v}
    env["PYTHONPATH"] = str(ROOT / "platform")
    port = live.free_port()
    process = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=300)
        log = (tmp_path / "granian.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "granian", "basalt.wsgi:application", "--interface", "wsgi", "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1", "--blocking-threads", "32"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, (tmp_path / "granian.log").read_text()[-3000:]
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "granian did not answer"
            time.sleep(0.3)
        assert_bounded(url, database, lambda: (tmp_path / "granian.log").read_text()[-6000:])
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        live._postgres(os.environ["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.parametrize("variable", ["DATABASE_POOL_SIZE", "REQUEST_THREADS"])
def test_an_unbounded_pool_or_no_request_thread_is_refused_at_start(tmp_path, variable):
    """0 used to mean "persistent connections, one per thread": it is a configuration error now."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASALT_", "DJANGO_"))}
    env.update(BASALT_DATA_DIR=str(tmp_path), **{variable: "0"})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"basalt: configuration error: {variable} must be at least 1, got 0"

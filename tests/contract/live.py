"""Start a real `manage.py serve` process for contract tests and give it a project made through the API.

On the SQLite pass the server uses its own data folder (the embedded default). On the PostgreSQL
pass (DATABASE_URL set) it gets a database of its own, created here and dropped afterwards, and the
same Redis, so the contract is checked on both engines with the production-shaped backends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from devtools.readiness import wait_until_answering

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 90.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    database: str | None  # the PostgreSQL database made for this server, dropped at stop
    env: dict[str, str] = field(default_factory=dict)  # what it runs with: shell commands reach its data

    def log_tail(self, lines: int = 60) -> str:
        """The server's last errors and tracebacks (its routine 4xx warnings left out)."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join([line for line in text if " WARNING django.request " not in line][-lines:])


@dataclass
class LiveProject:
    url: str
    ref: str
    publishable: str
    secret: str
    owner_token: str = ""  # the owner's console access token, for management calls


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres(database_url: str, statement: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(statement)


def _own_database_url(database_url: str) -> tuple[str, str]:
    """A fresh database beside the configured one, so the server never shares the test database."""
    parts = urlsplit(database_url)
    name = f"{parts.path.lstrip('/') or 'basalt'}_contract_{uuid.uuid4().hex[:8]}"[:63]
    _postgres(database_url, f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}")), name


def live_redis_url(url: str) -> str:
    """The Redis database live servers share: not one an xdist worker uses (the base and the ones
    below it, tests/conftest.py). On a worker's database, a worker's `cache.clear()` (FLUSHDB) wiped
    a live server's state, and the fuzzer's failed sign-ins on a live server locked 127.0.0.1 out of
    the other worker's console sign-ins (a 429 in a browser test)."""
    from tests.conftest import redis_db_below

    return redis_db_below(url, 8)


def server_env(data_dir: Path, *, own_database: bool = True) -> tuple[dict[str, str], str | None]:
    """The environment of a server started for a test, and the PostgreSQL database made for it (the
    caller drops it: live.stop does). Without `own_database` it uses SQLite in `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASALT_", "DJANGO_", "CELERY_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"):
        env.pop(name, None)
    # Contract tests sign up once per server; the default console throttles are not under test here.
    env.update(
        BASALT_DATA_DIR=str(data_dir),
        CONSOLE_SIGNUP_RATE="1000/min",
        CONSOLE_SIGNIN_RATE="1000/min",
        # The fuzzer sends many bad sign-ins from 127.0.0.1; the address lock would refuse later sign-ins.
        CONSOLE_SIGNIN_FAILURES_PER_ACCOUNT_AND_ADDRESS="100000",
        CONSOLE_SIGNIN_FAILURES_PER_ADDRESS="100000",
        IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR="100000",
    )
    database = None
    if os.environ.get("DATABASE_URL") and own_database:
        env["DATABASE_URL"], database = _own_database_url(os.environ["DATABASE_URL"])
        # A small bounded pool: the PostgreSQL server is shared with every other test run.
        env["DATABASE_POOL_SIZE"] = "4"
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = live_redis_url(os.environ["REDIS_URL"])
        # No separate Celery worker runs in tests: background work runs inline.
        env["CELERY_TASK_ALWAYS_EAGER"] = "true"
    return env, database


def start(data_dir: Path, overrides: dict[str, str | None] | None = None, args: tuple[str, ...] = ()) -> Server:
    """`overrides` changes the server's environment; a None value removes the variable."""
    env, database = server_env(data_dir)
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    port = free_port()
    log = data_dir.parent / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log, database, env)
    wait_until_ready(server)
    return server


@contextmanager
def running(
    data_dir: Path, overrides: dict[str, str | None] | None = None, args: tuple[str, ...] = ()
) -> Iterator[Server]:
    """`start`, stopped at the end of the block whatever happens in it."""
    server = start(data_dir, overrides, args)
    try:
        yield server
    finally:
        stop(server)


def wait_until_ready(server: Server) -> None:
    """Return once `server` answers /healthz; otherwise stop it and fail with its log."""
    failure = wait_until_answering(server.url + "/healthz", server.process, START_TIMEOUT)
    if failure is not None:
        stop(server)
        raise AssertionError(f"serve {failure}:\n{server.log_tail()}")


def stop(server: Server) -> None:
    process = server.process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if server.database:
        _postgres(os.environ["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{server.database}" WITH (FORCE)')


def _ok(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, (response.request.method, response.request.url, response.text[:500])
    return response.json()


def make_project(url: str, name: str = "Contract") -> LiveProject:
    """Sign up a console account, create a project and both keys, all through the public API."""
    email = f"dev-{uuid.uuid4().hex[:10]}@example.com"
    password = "a long contract passphrase"
    with httpx.Client(base_url=url, timeout=30) as http:
        _ok(http.post("/api/v1/manage/auth/users/", json={"email": email, "password": password}), 201)
        token = _ok(http.post("/api/v1/manage/auth/jwt/create/", json={"email": email, "password": password}), 200)
        http.headers["Authorization"] = f"Bearer {token['access']}"
        ref = _ok(http.post("/api/v1/manage/projects", json={"name": name}), 201)["ref"]
        keys = {
            kind: _ok(http.post(f"/api/v1/manage/projects/{ref}/keys", json={"kind": kind, "name": kind}), 201)["key"]
            for kind in ("publishable", "secret")
        }
    return LiveProject(url, ref, keys["publishable"], keys["secret"], token["access"])


def create_collection(project: LiveProject, definition: dict) -> dict:
    with httpx.Client(base_url=project.url, headers={"X-API-Key": project.secret}, timeout=30) as http:
        return _ok(http.post("/api/v1/schema/collections", json=definition), 201)

"""The container entrypoint's roles, run on this machine: web (granian + WhiteNoise) and realtime (daphne)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from devtools.readiness import wait_until_answering
from tests.conftest import private_redis_url

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
pytestmark = pytest.mark.live


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Production profile on SQLite in a temporary folder: never the developer's databases."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASALT_", "DJANGO_", "CELERY_"))}
    for name in ("DATABASE_URL", "REDIS_URL", "DEBUG", "CONSOLE_SIGNUP_OPEN"):
        env.pop(name, None)
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        PYTHONPATH=str(ROOT / "platform"),
        BASALT_PROFILE="production",
        BASALT_DATA_DIR=str(tmp_path / "data"),
        STATIC_ROOT=str(tmp_path / "static"),
        SECRET_KEY="entrypoint-test-" + "Xq7vR2mZ" * 5,
        ALLOWED_HOSTS="127.0.0.1",
        CONSOLE_SIGNUP_OPEN="false",
        WEB_CONCURRENCY="1",
        WEB_THREADS="2",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def wait_for(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    failure = wait_until_answering(url, process, timeout, status=None)
    if failure is not None:
        output = process.stdout.read()[-3000:] if process.poll() is not None else ""
        raise AssertionError(f"{failure}: {output}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_web_role_checks_migrates_and_serves_api_and_static_files(tmp_path):
    env = production_env(tmp_path)
    # The image runs collectstatic at build time; do the same here.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env=env, cwd=ROOT, check=True, timeout=120
    )
    port = free_port()
    process = subprocess.Popen(
        [str(ENTRYPOINT), "web", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/healthz", process)
        assert (tmp_path / "data" / "basalt.sqlite3").exists(), "web did not migrate"
        ready = httpx.get(base + "/readyz")
        assert ready.status_code == 200, ready.text
        static = httpx.get(base + "/static/rest_framework/css/bootstrap.min.css")
        assert static.status_code == 200
        assert static.headers["Content-Type"].startswith("text/css")
        assert httpx.get(base + "/static/..%2f..%2fmanage.py").status_code == 404
        not_found = httpx.get(base + "/api/v1/nope")
        assert not_found.status_code == 404
        assert not_found.json()["error"]["code"] == "not_found"
        # The container health probe, as docker runs it.
        probe = subprocess.run(
            [sys.executable, str(ROOT / "docker" / "healthcheck.py"), str(port), "/readyz"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.returncode == 0, probe.stderr
        # A host that is not allowed gets 400 from Django, so the probe must use an allowed one.
        assert httpx.get(base + "/healthz", headers={"Host": "evil.example"}).status_code == 400
    finally:
        stop(process)


def test_web_role_refuses_insecure_settings_before_migrating(tmp_path):
    result = subprocess.run(
        [str(ENTRYPOINT), "web"],
        env=production_env(tmp_path, ALLOWED_HOSTS="*"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "ERROR   allowed_hosts" in result.stdout
    assert not (tmp_path / "data" / "basalt.sqlite3").exists()


def test_web_role_refuses_a_missing_secret_with_one_line(tmp_path):
    result = subprocess.run(
        [str(ENTRYPOINT), "web"],
        env=production_env(tmp_path, SECRET_KEY=""),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("basalt: configuration error: refusing to start in production")
    assert "Traceback" not in result.stderr


def test_realtime_role_serves_on_daphne(tmp_path):
    env = production_env(tmp_path)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=120)
    port = free_port()
    process = subprocess.Popen(
        [str(ENTRYPOINT), "realtime", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process)
        response = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
        assert response.headers.get("Server", "").lower().startswith("daphne")
    finally:
        stop(process)


def test_beat_role_ticks_and_passes_its_healthcheck(tmp_path):
    env = production_env(tmp_path)
    schedule = tmp_path / "beat-schedule"
    process = subprocess.Popen(
        [str(ENTRYPOINT), "beat", "--schedule", str(schedule)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    probe = [sys.executable, str(ROOT / "docker" / "healthcheck.py"), "--beat", str(schedule)]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(probe, timeout=30).returncode != 0:
            assert process.poll() is None, process.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "beat never wrote its schedule"
            time.sleep(0.5)
    finally:
        stop(process)
    assert subprocess.run([*probe[:-1], str(tmp_path / "no-such-schedule")], timeout=30).returncode == 1


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the PostgreSQL + Redis pass)")
def test_worker_role_runs_queued_tasks_and_answers_its_healthcheck(tmp_path):
    """`celery -A basalt worker` from the entrypoint consumes Redis and answers `inspect ping`."""
    queue = f"basalt-test-{uuid.uuid4().hex[:12]}"  # private queue: never steal other tests' tasks
    node = f"{queue}@localhost"
    env = production_env(
        tmp_path,
        # This xdist worker's own database: the base one is the other worker's cache, and its
        # `cache.clear()` (FLUSHDB) wiped the queued task (a CI failure).
        REDIS_URL=private_redis_url(),
        DJANGO_SETTINGS_MODULE="tests.foundation.background_site.settings",
        PYTHONPATH=f"{ROOT / 'platform'}:{ROOT}",
    )
    worker = subprocess.Popen(
        [str(ENTRYPOINT), "worker", "--queues", queue, "--hostname", node, "--pool", "solo"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    marker = tmp_path / "task-done"
    try:
        send = (
            "from tests.foundation.background_site.tasks import slow_marker; "
            f"slow_marker.apply_async(({str(marker)!r}, 0), queue={queue!r})"
        )
        subprocess.run([sys.executable, "manage.py", "shell", "-c", send], env=env, cwd=ROOT, check=True, timeout=60)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, worker.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the worker never ran the task"
            time.sleep(0.3)
        ping = subprocess.run(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "basalt",
                "inspect",
                "ping",
                "--timeout",
                "10",
                "-d",
                node,
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "pong" in ping.stdout
    finally:
        stop(worker)

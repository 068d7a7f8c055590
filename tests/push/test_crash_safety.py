"""SECURITY.md T15: a real Celery worker on Redis, SIGKILLed twice mid-push, against an FCM stand-in
injecting 429, 500 and timeouts. Every (push, device) ends `sent`, `failed` with a reason, or
`in_flight_at_crash`; nothing is stuck, nothing that was not on the wire is lost or sent twice.

Runs on PostgreSQL + Redis (the production shape), at SECURITY.md's 10,000 devices (77.5 s on a
loaded 2-core machine, 2026-12-05); `PUSH_T15_DEVICES` sets another size for a quicker local run,
with the same faults and kills.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.conftest import private_redis_url
from tests.contract import live
from tests.push import keys
from tests.push.standins import fcm_stand_in

pytestmark = [
    pytest.mark.live,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")), reason="needs PostgreSQL and Redis"
    ),
]
ROOT = Path(__file__).resolve().parents[2]
DEVICES = int(os.environ.get("PUSH_T15_DEVICES", "10000"))
DEADLINE = 240.0


def _worker(env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "basalt",
                "worker",
                "-B",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "-s",
                str(log.parent / "beat-schedule"),
                "-n",
                f"t15-{time.monotonic_ns()}@localhost",
            ],
            env=env,
            cwd=ROOT / "platform",
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _kill(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _statuses(dsn: str, push_id: str) -> Counter:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT status, COUNT(*) FROM basalt_push_delivery WHERE push_id = %s GROUP BY status", [push_id]
        ).fetchall()
    return Counter(dict(rows))


def _wait_for(dsn: str, push_id: str, done, what: str) -> Counter:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        counts = _statuses(dsn, push_id)
        if done(counts):
            return counts
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {dict(_statuses(dsn, push_id))}")


def test_worker_killed_twice_mid_push_loses_and_duplicates_nothing(tmp_path):
    data = tmp_path / "data"
    env, database = live.server_env(data)
    stand_in = fcm_stand_in()
    # Faults: every 7th token is throttled once (Retry-After 1 s), every 11th fails with a 500
    # twice, every 97th answers too slowly once (a timeout).
    for n in range(DEVICES):
        token = f"crash-{n:06d}-" + "t" * 24
        if n % 7 == 0:
            stand_in.plan[token] = ["429"]
        elif n % 11 == 0:
            stand_in.plan[token] = ["500", "500", "500"]
        elif n % 97 == 0:
            stand_in.plan[token] = ["slow"]
    stand_in.slow_seconds = 3.0
    env.update(
        # This xdist worker's own Redis database, which the FLUSHDB below may wipe: the live
        # servers' shared one may hold another worker's server state at that moment.
        REDIS_URL=private_redis_url(),
        CELERY_TASK_ALWAYS_EAGER="false",
        PUSH_FCM_API_BASE=stand_in.base,
        PUSH_ALLOW_PRIVATE_ENDPOINTS="true",
        PUSH_LEASE_SECONDS="10",
        PUSH_HTTP_TIMEOUT="2",
        PUSH_TICK_SECONDS="2",
        NO_GCE_CHECK="True",
        SECRET_KEY="t15-" + "s" * 60,
        DATABASE_POOL_SIZE="4",
        PUSH_TEST_RSA_PEM=keys.rsa_pem(),
        # `celery -A basalt` imports the product package and the console app like manage.py does.
        PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
    )
    dsn = env["DATABASE_URL"]
    workers: list[subprocess.Popen] = []
    log = tmp_path / "worker.log"
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True, timeout=300)
        import redis

        redis.Redis.from_url(env["REDIS_URL"]).flushdb()
        seeded = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("crash_seed.py")), str(DEVICES), stand_in.token_uri],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=300,
            capture_output=True,
            text=True,
        )
        push_id = json.loads(seeded.stdout.strip().splitlines()[-1])["push_id"]
        workers.append(_worker(env, log))
        for fraction in (0.2, 0.6):
            _wait_for(dsn, push_id, lambda c, f=fraction: c["sent"] >= DEVICES * f, f"{fraction:.0%} sent")
            _kill(workers[-1])
            workers.append(_worker(env, log))
        final = _wait_for(
            dsn,
            push_id,
            lambda c: sum(c.values()) == DEVICES and not (c["pending"] or c["claimed"] or c["sending"]),
            "every delivery to settle",
        )
        with psycopg.connect(dsn) as conn:
            status = conn.execute("SELECT status FROM basalt_push WHERE id = %s", [push_id]).fetchone()[0]
            rows = conn.execute(
                "SELECT token, status, reason FROM basalt_push_delivery WHERE push_id = %s", [push_id]
            ).fetchall()
            installations = conn.execute(
                "SELECT COUNT(DISTINCT installation_id) FROM basalt_push_delivery WHERE push_id = %s", [push_id]
            ).fetchone()[0]
    finally:
        for worker in workers:
            if worker.poll() is None:
                _kill(worker)
        stand_in.close()
        if database:
            live._postgres(os.environ["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    assert installations == DEVICES == len(rows)
    assert set(final) <= {"sent", "failed", "in_flight_at_crash", "invalid"}, final
    assert all(reason for _, state, reason in rows if state == "failed")
    received = Counter(stand_in.delivered_tokens())
    # Nothing was delivered twice, and every `sent` delivery arrived exactly once.
    assert max(received.values()) == 1
    sent_tokens = {token for token, state, _ in rows if state == "sent"}
    in_flight = {token for token, state, _ in rows if state == "in_flight_at_crash"}
    assert sent_tokens <= set(received) and set(received) <= sent_tokens | in_flight
    # The kills happened mid-batch: some deliveries were on the wire, and were not resent.
    assert final["in_flight_at_crash"] > 0 or final["sent"] == DEVICES
    calls = log.read_text(errors="replace").count(": fcm batch of ")
    retried = sum(
        1 for steps in (["x"] if n % 7 == 0 or n % 11 == 0 or n % 97 == 0 else [] for n in range(DEVICES)) if steps
    )
    assert calls <= math.ceil(DEVICES / 500) + retried * 3 + 2, calls
    print(f"T15: {DEVICES} devices, {dict(final)}, push {status}, {calls} FCM calls, {stand_in.requests} HTTP sends")

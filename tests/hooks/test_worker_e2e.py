"""Real background workers deliver: `serve`'s in-process worker (SQLite pass) and, on the PostgreSQL
pass, a separate `celery -A basalt worker` on Redis beside `serve --no-worker`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import redis_db_below
from tests.contract import live
from tests.hooks.conftest import POSTS

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
WRITES = 30


def _start(tmp_path: Path):
    overrides: dict[str, str | None] = {"WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    worker = None
    if os.environ.get("REDIS_URL"):
        # A Redis database of this test's own: the queue is never another test's.
        overrides |= {"REDIS_URL": redis_db_below(os.environ["REDIS_URL"], 10), "CELERY_TASK_ALWAYS_EAGER": None}
        server = live.start(tmp_path / "data", overrides, args=("--no-worker",))
        env = {**server.env, "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "basalt",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "WARNING",
            ],
            env=env,
            cwd=ROOT,
            stdout=(tmp_path / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
    else:
        server = live.start(tmp_path / "data", overrides)
    return server, worker


def test_committed_writes_reach_the_receiver_through_a_real_worker(tmp_path, receiver):
    server, worker = _start(tmp_path)
    try:
        project = live.make_project(server.url, "Hooks")
        live.create_collection(project, POSTS)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.headers["Authorization"] = f"Bearer {project.owner_token}"
            created = http.post(
                f"/api/v1/manage/projects/{project.ref}/webhooks",
                json={"url": receiver.url, "events": ["documents.create"]},
            )
            assert created.status_code == 201, created.text
            secret = created.json()["secret"]
            http.headers.pop("Authorization")
            http.headers["X-API-Key"] = project.secret
            for n in range(WRITES):
                assert http.post("/api/v1/collections/posts/documents", json={"title": f"t{n}"}).status_code == 201
            # A write the database refuses is never announced.
            assert http.post("/api/v1/collections/posts/documents", json={"title": 5}).status_code == 400
        receiver.wait_for(WRITES, timeout=90)
        bodies = receiver.verified(secret)
        assert sorted(b["data"]["document"]["title"] for b in bodies) == sorted(f"t{n}" for n in range(WRITES))
        assert len({r.headers["webhook-id"] for r in receiver.received}) == WRITES
        assert len(receiver.received) == WRITES
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        live.stop(server)

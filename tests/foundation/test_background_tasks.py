"""`serve` consumes background tasks in every configuration, and says so when nothing does.

Before, `serve` with REDIS_URL set published tasks to Redis and started no worker: index builds
stayed `pending` forever and unique indexes never existed. Now it runs its in-process worker on
the broker unless `--no-worker` says a separate `celery worker` does, and every worker writes a
heartbeat that /readyz reads.
"""

from __future__ import annotations

import os
import time

import httpx
import pytest

from tests.conftest import private_redis_url
from tests.contract import live

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the PostgreSQL + Redis pass)"),
]


def redis_server_env() -> dict[str, str | None]:
    # The real broker, not the inline shortcut the contract servers use.
    return {"REDIS_URL": private_redis_url(), "CELERY_TASK_ALWAYS_EAGER": None}


def index_statuses(project: live.LiveProject, collection: str) -> list[str]:
    response = httpx.get(
        f"{project.url}/api/v1/schema/collections/{collection}", headers={"X-API-Key": project.secret}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [index["status"] for index in response.json()["indexes"]]


@pytest.mark.parametrize("database", ["configured", "sqlite"])
def test_serve_with_redis_runs_background_tasks_so_index_builds_finish(tmp_path, database):
    overrides = redis_server_env() | ({"DATABASE_URL": None} if database == "sqlite" else {})
    server = live.start(tmp_path / "data", overrides)
    try:
        project = live.make_project(server.url, "Tasks")
        live.create_collection(
            project,
            {"name": "items", "fields": {"sku": {"type": "string"}}, "indexes": [{"fields": ["sku"], "unique": True}]},
        )
        deadline = time.monotonic() + 60
        while (statuses := index_statuses(project, "items")) != ["ready"]:
            assert "failed" not in statuses, statuses
            assert time.monotonic() < deadline, f"index build never ran: {statuses}"
            time.sleep(0.3)
        ready = httpx.get(server.url + "/readyz", timeout=30).json()
        assert ready["status"] == "ready" and "warnings" not in ready, ready
    finally:
        live.stop(server)
    assert "in-process Celery worker and beat (redis broker" in server.log.read_text()


def test_serve_without_its_worker_says_tasks_are_not_consumed(tmp_path):
    server = live.start(tmp_path / "data", redis_server_env(), args=("--no-worker",))
    try:
        # Another test's worker on this Redis database may have left a heartbeat; wait it out.
        import redis

        from basalt.core.background import HEARTBEAT_KEY

        redis.Redis.from_url(private_redis_url()).delete(f":1:{HEARTBEAT_KEY}")
        response = httpx.get(server.url + "/readyz", timeout=30)
        # Not "unready": web serves before the separate worker starts. But the operator is told.
        assert response.status_code == 200, response.text
        warnings = response.json()["warnings"]
        assert len(warnings) == 1 and "celery -A basalt worker" in warnings[0]
    finally:
        live.stop(server)
    assert "left to a separate `celery -A basalt worker` on redis broker at 127.0.0.1" in server.log.read_text()

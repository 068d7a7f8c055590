"""The real `parse` npm SDK under Node against a live `manage.py serve`, through /parse/."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from tests.contract import live

    running = live.start(tmp_path_factory.mktemp("parse-live") / "data")
    try:
        yield running
    finally:
        live.stop(running)


def test_parse_js_sdk_everything_an_app_uses(server):
    """Objects, queries, batch, users, sessions, ACLs, roles, files, config and schemas all work."""
    from tests.contract import live

    if not (NODE_DIR / "node_modules" / "parse").exists():
        pytest.fail("the parse SDK is not installed: run .ci/steps/parse.sh")
    keys = live.make_project(server.url, "Parse SDK")
    done = subprocess.run(
        ["node", "sdk_checks.js", f"{server.url}/parse", keys.ref, keys.publishable, keys.secret],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=NODE_DIR,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr + server.log_tail()
    result = json.loads(lines[-1])
    assert result["failed"] == {}, json.dumps(result["failed"], indent=1) + server.log_tail()
    assert len(result["passed"]) == 18

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

    keys = live.make_project(server.url, "Parse SDK")
    done = _node("sdk_checks.js", server, keys)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr + server.log_tail()
    result = json.loads(lines[-1])
    assert result["failed"] == {}, json.dumps(result["failed"], indent=1) + server.log_tail()
    assert len(result["passed"]) == 18


def _node(script: str, server, keys) -> subprocess.CompletedProcess:
    if not (NODE_DIR / "node_modules" / "parse").exists():
        pytest.fail("the parse SDK is not installed: run .ci/steps/parse.sh")
    return subprocess.run(
        ["node", script, f"{server.url}/parse", keys.ref, keys.publishable, keys.secret],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=NODE_DIR,
    )


def test_parse_js_sdk_installation_custom_fields_and_push_where(tmp_path, monkeypatch):
    """Parse.Installation with app fields (set, increment, unset, Date, user pointer), then
    Parse.Push.send with a where over them: only the matching devices get the push."""
    import time

    import httpx

    from tests.push.live_fcm import served_with_fcm

    with served_with_fcm(tmp_path / "data", monkeypatch, "Parse installations") as served:
        server, project, stand_in = served.server, served.project, served.fcm
        done = _node("installation_checks.js", server, project)
        assert done.returncode == 0, done.stderr + server.log_tail()
        result = json.loads(done.stdout.strip().splitlines()[-1])
        secret = {"X-API-Key": project.secret}
        for name in ("team", "user", "pointer"):
            push_id = result["pushes"][name]
            assert push_id, result
            for _ in range(120):
                status = httpx.get(f"{server.url}/api/v1/push/{push_id}", headers=secret, timeout=30).json()
                if status["status"] in ("done", "failed"):
                    break
                time.sleep(0.5)
            assert status["status"] == "done" and status["counts"]["targeted"] == 1, status
        fan, anonymous = "giants-fan-" + "g" * 30, "giants-anon-" + "a" * 30
        assert set(stand_in.received) == {fan, anonymous}, stand_in.received
        assert [m["notification"]["body"] for m in stand_in.received[anonymous]] == ["Giants win"]
        assert sorted(m["notification"]["body"] for m in stand_in.received[fan]) == ["for the fan", "pointer and $in"]
        mine = result["installations"]["mine"]
        native = httpx.get(f"{server.url}/api/v1/installations/{mine}", headers=secret, timeout=30).json()
        assert native["custom"]["favorite_team"] == "Giants" and native["custom"]["app_build"] == 43
        assert native["custom"]["location"] == {"__type": "GeoPoint", "lat": 48.85, "lng": 2.35}
        assert native["custom"]["avatar"]["name"] == "me.png" and native["custom"]["prefs"]["volume"] == 5
        assert native["user"] == result["user"]


def test_parse_js_sdk_claims_an_installation_saved_signed_out(server):
    """currentInstallation saved signed out, then `set('user', currentUser)` after signUp: one PUT
    links it; another user's PUT on that installation is 101 and changes nothing."""
    from tests.contract import live

    keys = live.make_project(server.url, "Parse claim")
    done = _node("claim_checks.js", server, keys)
    assert done.returncode == 0, done.stderr + server.log_tail()
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["installation"] and result["user"]

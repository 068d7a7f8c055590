"""`manage.py serve --http-server daphne`: the probes, API, static files and Ctrl-C of test_serve.py
(which runs `serve`'s default, granian) through daphne, and a busy port refused as loudly by either
server (granian listens with SO_REUSEPORT, which would otherwise let a second server share the port)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from .test_serve import (  # noqa: F401 (the same tests, collected here against this module's `served`)
    ROOT,
    Served,
    embedded_env,
    start_serve,
    stop,
    test_fresh_data_folder_is_created_and_migrated,
    test_healthz,
    test_missing_static_file_is_404,
    test_readyz_reports_every_component_ready,
    test_static_files_are_served,
    test_static_path_traversal_is_refused,
    test_unknown_api_route_is_a_json_404,
)

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Iterator[Served]:
    server = start_serve(tmp_path_factory.mktemp("serve-daphne") / "data", BASALT_SERVE_HTTP="daphne")
    yield server
    stop(server.process)


def _second_server(port: str, data_dir, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port", port, *args],
        env=embedded_env(data_dir),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("server", ["granian", "daphne"])
def test_a_second_server_on_the_same_port_fails_loudly_and_the_first_keeps_it(served, tmp_path, server):
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    signup = {"email": email, "password": "a long passphrase"}
    assert httpx.post(served.url + "/api/v1/manage/auth/users/", json=signup).status_code == 201
    port = served.url.rsplit(":", 1)[1]
    second = _second_server(port, tmp_path / "other", "--http-server", server)
    assert second.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in second.stdout + second.stderr
    # Every connection still reaches the first server (a second listener's data would not know the token).
    token = httpx.post(served.url + "/api/v1/manage/auth/jwt/create/", json=signup).json()["access"]
    for _ in range(20):
        with httpx.Client() as fresh_connection:
            response = fresh_connection.get(
                served.url + "/api/v1/manage/auth/users/me/", headers={"Authorization": f"Bearer {token}"}
            )
        assert response.status_code == 200, response.text
        assert response.json()["email"] == email


def test_ctrl_c_stops_it_with_its_background_worker(tmp_path):
    server = start_serve(tmp_path / "data", BASALT_SERVE_HTTP="daphne")
    assert httpx.get(server.url + "/healthz").status_code == 200
    stop(server.process)
    assert server.process.returncode is not None
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/healthz", timeout=2)

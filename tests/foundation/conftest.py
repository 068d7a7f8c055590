"""Foundation fixtures: a project with one member per role, DB snapshots, error-contract checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.conftest import console_client_for

REPO = Path(__file__).resolve().parents[2]


def error_of(response) -> dict[str, Any]:
    """Assert the API.md §1 error shape and return its `error` object."""
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = error_of(response)
    assert error["code"] == code, error
    return error


def snapshot() -> dict[str, list]:
    """Every row a management action could touch, so a denied action can be shown to change nothing."""
    from guardian.models import UserObjectPermission

    from basalt.accounts.models import Account
    from basalt.projects.models import ApiKey, Membership, Project

    tables: dict[str, Any] = {
        "project": Project.objects.all(),
        "key": ApiKey.objects.all(),
        "membership": Membership.objects.all(),
        "perm": UserObjectPermission.objects.all(),
        "account": Account.objects.all(),
    }
    try:
        from basalt.documents.models import Collection, Document

        tables["collection"] = Collection.objects.all()
        tables["document"] = Document.objects.all()
    except ImportError:  # pragma: no cover - documents is installed in this repo
        pass
    return {name: sorted(map(repr, qs.order_by("pk").values())) for name, qs in tables.items()}


@dataclass
class Team:
    """Project A with one console account per role, a spare member to act on, and an outsider."""

    ref: str
    project: Any
    secret: str
    publishable: str
    accounts: dict[str, Any]
    members: dict[str, Any]
    target: Any  # a viewer membership the actions change or remove
    outsider: Any  # a console account that is not a member (for "add member")
    extra: dict[str, Any] = field(default_factory=dict)

    def client(self, role: str) -> APIClient:
        return console_client_for(self.accounts[role])


@pytest.fixture
def team(make_project, make_account) -> Team:
    from basalt.projects import services

    keys = make_project("Team A")
    owner = keys.owner
    accounts = {"owner": owner, "non-member": make_account()}
    members = {"owner": keys.project.memberships.get(account=owner)}
    for role in ("admin", "developer", "viewer"):
        accounts[role] = make_account()
        members[role] = services.join_project(keys.project, accounts[role], role)
    target = services.join_project(keys.project, make_account(), "viewer")
    return Team(
        ref=keys.project.ref,
        project=keys.project,
        secret=keys.secret,
        publishable=keys.publishable,
        accounts=accounts,
        members=members,
        target=target,
        outsider=make_account(),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`manage.py serve --no-migrate` on 127.0.0.1 with a given environment, stopped by the test."""

    def __init__(self, tmp_path: Path, env: dict[str, str]):
        self.port = free_port()
        base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
        base.update({"BASALT_DATA_DIR": str(tmp_path / "data"), "BASALT_PROFILE": "embedded", "LOG_LEVEL": "ERROR"})
        base.update(env)
        self.log = open(tmp_path / f"server-{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=base,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_listening()

    def _wait_until_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early: {Path(self.log.name).read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError("server did not start listening in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.log.close()


@pytest.fixture
def live_server_factory(tmp_path):
    """Start real server processes for the test; every one is stopped afterwards."""
    servers: list[LiveServer] = []

    def start(env: dict[str, str] | None = None) -> LiveServer:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        server = LiveServer(folder, env or {})
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()

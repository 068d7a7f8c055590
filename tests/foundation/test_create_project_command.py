"""`manage.py create_project` (API.md §8) and in-process readiness (API.md §10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from tests.foundation.conftest import REPO

pytestmark = pytest.mark.django_db


def run(owner: str, name: str) -> dict:
    out = StringIO()
    call_command("create_project", "--owner", owner, "--name", name, stdout=out)
    return json.loads(out.getvalue())


def data_get(key: str):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client.get("/api/v1/project")


def test_new_owner_gets_a_project_and_working_keys():
    from basalt.accounts.models import Account
    from basalt.projects.models import Membership

    output = run("New.Owner@Example.com", "Shop")
    assert output["owner"] == "new.owner@example.com" and output["owner_created"] is True
    assert output["name"] == "Shop" and output["ref"]
    publishable, secret = output["publishable_key"]["key"], output["secret_key"]["key"]
    assert publishable.startswith("pk_") and secret.startswith("sk_")
    for key, kind in ((publishable, "publishable"), (secret, "secret")):
        answer = data_get(key)
        assert answer.status_code == 200
        assert answer.json()["ref"] == output["ref"] and answer.json()["key_kind"] == kind
    account = Account.objects.get(email="new.owner@example.com")
    assert not account.has_usable_password()  # they set one through password reset or the console
    assert Membership.objects.get(project__ref=output["ref"], account=account).role == "owner"


def test_existing_owner_is_reused(make_account):
    from basalt.accounts.models import Account

    existing = make_account("boss@example.com")
    output = run("BOSS@example.com", "Second")
    assert output["owner_created"] is False
    assert Account.objects.filter(email__iexact="boss@example.com").count() == 1
    assert data_get(output["secret_key"]["key"]).json()["ref"] == output["ref"]
    from tests.conftest import console_client_for

    console = console_client_for(existing)
    assert output["ref"] in {p["ref"] for p in console.get("/api/v1/manage/projects").json()["results"]}


@pytest.mark.parametrize(
    ("owner", "name", "message"),
    [
        ("a@example.com", "", "--name"),
        ("a@example.com", "   ", "--name"),
        ("not-an-email", "Shop", "--owner"),
        ("", "Shop", "--owner"),
        ("a@example.com", "x" * 101, "name"),
    ],
)
def test_bad_input_fails_with_a_clear_message_and_creates_nothing(owner, name, message):
    from basalt.accounts.models import Account
    from basalt.projects.models import Project

    with pytest.raises(CommandError) as raised:
        run(owner, name)
    assert message in str(raised.value)
    assert not Project.objects.exists() and not Account.objects.exists()


def test_bad_input_exits_non_zero_from_the_shell(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env["BASALT_DATA_DIR"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "manage.py", "create_project", "--owner", "a@example.com", "--name", ""],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "--name must not be empty" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_readyz_names_its_checks_when_all_is_well():
    from basalt.core.background import record_heartbeat

    record_heartbeat()  # as a running worker does; without one on a real broker /readyz adds a warning
    response = APIClient().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "channel_layer": "ok", "broker": "ok"}}


def test_readyz_reports_each_failing_check(monkeypatch):
    from basalt.health import checks

    monkeypatch.setitem(checks.CHECKS, "database", lambda: False)
    response = APIClient().get("/readyz")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable" and error["details"]["database"] == "down"
    assert error["details"]["channel_layer"] == "ok" and int(response["Retry-After"]) >= 1
    assert APIClient().get("/healthz").status_code == 200


def test_readiness_probe_leaves_channel_groups_alone(settings):
    """The in-memory layer's probe must not flush live realtime groups."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    if not settings.CHANNEL_LAYERS["default"]["BACKEND"].endswith("InMemoryChannelLayer"):
        pytest.skip("in-memory channel layer only")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("project.demo", channel)
    assert APIClient().get("/readyz").status_code == 200
    async_to_sync(layer.group_send)("project.demo", {"type": "still.here"})
    import asyncio

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), 2)

    assert async_to_sync(receive)()["type"] == "still.here"
    async_to_sync(layer.group_discard)("project.demo", channel)

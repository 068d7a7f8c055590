"""The embedded default (`manage.py serve`) sends pushes through its in-process worker; the Python SDK
registers a device, sends and follows the push, against a real server and the FCM stand-in."""

from __future__ import annotations

import httpx
import pytest
from basalt_sdk import Client, PermissionDeniedError

from tests.contract import live
from tests.push import keys
from tests.push.standins import fcm_stand_in

pytestmark = pytest.mark.live


def test_sdk_registers_sends_and_follows_a_push_on_a_served_process(tmp_path, monkeypatch):
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    stand_in = fcm_stand_in()
    server = live.start(
        tmp_path / "data",
        {"PUSH_FCM_API_BASE": stand_in.base, "PUSH_ALLOW_PRIVATE_ENDPOINTS": "true", "NO_GCE_CHECK": "True"},
    )
    try:
        project = live.make_project(server.url, "Push")
        account = keys.service_account(stand_in.token_uri)
        answer = httpx.patch(
            f"{server.url}/api/v1/manage/projects/{project.ref}/settings",
            json={"push": {"fcm": {"service_account": account}}},
            headers={"Authorization": f"Bearer {project.owner_token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["push"]["fcm"]["configured"] is True and "private_key" not in answer.text
        with Client(server.url, project.publishable) as app:
            app.sign_up("device-owner@example.com", "a long device passphrase")
            device = app.push.register_installation(
                platform="android",
                provider="fcm",
                token="sdk-token-" + "q" * 30,
                channels=["news"],
                locale="fr",
                custom={"favorite_team": "Giants", "app_build": 41},
            )
            assert device["user"] and device["active"] is True and device["custom"]["favorite_team"] == "Giants"
            changed = app.push.update_installation(
                device["id"], custom={"app_build": {"__op": "increment", "by": 1}, "favorite_team": None}
            )
            assert changed["custom"] == {"app_build": 42}
            with pytest.raises(PermissionDeniedError):
                app.push.send(notification={"title": "not allowed"})
        with Client(server.url, project.secret) as backend:
            assert (
                backend.push.send(audience={"channels": ["news"]}, notification={"title": "x"}, dry_run=True)[
                    "targeted"
                ]
                == 1
            )
            by_build = {"where": {"custom.app_build": {"$gte": 42}}}
            assert backend.push.send(audience=by_build, notification={"title": "x"}, dry_run=True)["targeted"] == 1
            assert [d["id"] for d in backend.push.installations(where={"custom.app_build": 42})] == [device["id"]]
            queued = backend.push.send(
                audience={"channels": ["news"]},
                notification={"title": "Hello"},
                localized={"fr": {"title": "Bonjour"}},
            )
            final = backend.push.wait(queued["id"], timeout=60)
            assert final["status"] == "done", final
            assert final["counts"]["sent"] == 1 and final["counts"]["providers"]["fcm"]["sent"] == 1
            assert backend.push.history()["results"][0]["id"] == queued["id"]
        (message,) = stand_in.received["sdk-token-" + "q" * 30]
        assert message["notification"]["title"] == "Bonjour"
    finally:
        live.stop(server)
        stand_in.close()

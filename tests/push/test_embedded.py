"""The embedded default (`manage.py serve`) sends pushes through its in-process worker; the Python SDK
registers a device, sends and follows the push, against a real server and the FCM stand-in."""

from __future__ import annotations

import pytest
from basalt_sdk import Client, PermissionDeniedError

from tests.push.live_fcm import served_with_fcm

pytestmark = pytest.mark.live


def test_sdk_registers_sends_and_follows_a_push_on_a_served_process(tmp_path, monkeypatch):
    with served_with_fcm(tmp_path / "data", monkeypatch, "Push") as served:
        server, project, stand_in = served.server, served.project, served.fcm
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
            assert app.push.subscribe(device["id"], "scores", "news") == ["news", "scores"]
            assert app.push.unsubscribe(device["id"], "scores", "weather") == ["news"]
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

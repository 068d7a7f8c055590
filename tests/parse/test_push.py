"""Parse installations and push (channels and where) through Basalt's push area."""

from __future__ import annotations

import pytest

from tests.push.conftest import configure, twins  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _inline(eager_tasks, settings):
    """Push fan-out runs inline on both passes; provider stand-ins live on loopback."""
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True


def test_installations_and_push_to_channels_and_where(project, rest, master, signed_up, twins):  # noqa: F811
    alice = signed_up("alice")
    first = alice.post(
        "installations",
        {
            "deviceType": "android",
            "pushType": "gcm",
            "deviceToken": "a" * 30,
            "channels": ["news"],
            "installationId": "9b2b2a4e-1",
            "appVersion": "2.0",
        },
    )
    assert first.status_code == 201, first.content
    again = alice.post("installations", {"deviceType": "android", "deviceToken": "a" * 30, "channels": ["news"]})
    assert again.status_code == 200 and again.json()["objectId"] == first.json()["objectId"]
    other = rest.post("installations", {"deviceType": "android", "deviceToken": "b" * 30, "channels": ["sport"]})
    assert other.status_code == 201, other.content
    mine = alice.get(f"installations/{first.json()['objectId']}").json()
    assert mine["channels"] == ["news"] and mine["deviceType"] == "android" and mine["pushType"] == "fcm"
    assert mine["user"] == {"__type": "Pointer", "className": "_User", "objectId": alice.user_id}
    assert alice.put(f"installations/{first.json()['objectId']}", {"channels": ["news", "sport"]}).status_code == 200
    listed = master.get("installations", {"where": {"channels": "sport"}}).json()["results"]
    assert len(listed) == 2
    assert rest.post("installations", {"deviceType": "android"}).json()["code"] == 135

    refused = rest.post("push", {"channels": ["news"], "data": {"alert": "hi"}})
    assert refused.status_code == 400 and refused.json()["code"] == 119
    sent = master.post("push", {"channels": ["sport"], "data": {"alert": "Goal!", "title": "Match", "extra": 1}})
    assert sent.status_code == 200 and sent.json() == {"result": True}, sent.content
    assert sent["X-Parse-Push-Status-Id"]
    assert sorted(call[0] for call in twins["fcm"].sent) == ["a" * 30, "b" * 30]
    before = len(twins["fcm"].sent)
    sent = master.post("push", {"where": {"appVersion": "2.0"}, "data": {"alert": "v2 only"}})
    assert sent.status_code == 200, sent.content
    tokens = [call[0] for call in twins["fcm"].sent[before:]]
    assert tokens == ["a" * 30]

"""POST /api/v1/push and friends with in-memory provider twins: audiences, texts, limits, schedules, cancel."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.push.conftest import apns_token, key_client, register

pytestmark = pytest.mark.django_db(transaction=True)


def _send(project, body: dict, status: int = 202):
    response = key_client(project.secret).post("/api/v1/push", body, format="json")
    assert response.status_code == status, response.content
    return response.json()


def _get(project, push_id: str) -> dict:
    return key_client(project.secret).get(f"/api/v1/push/{push_id}").json()


@pytest.fixture
def clock_at(monkeypatch):
    """Move the push area's clock: clock_at(datetime) from then on."""
    from basalt.push import clock

    def move(moment: datetime) -> None:
        monkeypatch.setattr(clock, "now", lambda: moment)

    return move


def test_pushing_needs_the_secret_key(project, twins):
    from rest_framework.test import APIClient

    body = {"audience": {}, "notification": {"title": "x"}}
    refused = key_client(project.publishable).post("/api/v1/push", body, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert APIClient().post("/api/v1/push", body, format="json").status_code == 401
    assert key_client(project.publishable).get("/api/v1/push").status_code == 403


def test_audiences_by_where_channels_and_users_and_dry_run(project, twins, signup):
    from basalt.push.models import Push

    alice_id, alice = signup()
    device = key_client(project.publishable)
    register(alice, "fcm", "a" * 30, channels=["news"], app_version="2.0")
    register(device, "fcm", "b" * 30, channels=["news", "sport"], app_version="1.0")
    register(device, "apns", apns_token(1), channels=["sport"])
    register(device, "webpush", '{"endpoint": "http://127.0.0.1:9/x", "keys": {"p256dh": "a", "auth": "b"}}')

    def dry(audience):
        return _send(project, {"audience": audience, "notification": {"title": "x"}, "dry_run": True}, 200)

    assert dry({})["targeted"] == 4
    assert dry({"channels": ["news"]})["targeted"] == 2
    assert dry({"channels": ["news", "sport"]})["providers"] == {"fcm": 2, "apns": 1}
    assert dry({"users": [alice_id]})["targeted"] == 1
    assert dry({"where": {"app_version": {"$gte": "2.0"}}})["targeted"] == 1
    assert dry({"where": {"provider": "apns"}, "channels": ["sport"]})["targeted"] == 1
    assert Push.objects.count() == 0 and twins["fcm"].sent == []


@pytest.mark.parametrize(
    "where",
    [{"nope": 1}, {"app_version": {"$bogus": 1}}, {"$or": "x"}, {"badge": {"$gt": "x"}}, {"a": {"b": {"c": {}}}}],
)
def test_audience_where_is_validated_like_find(project, twins, where):
    answer = _send(project, {"audience": {"where": where}, "notification": {"title": "x"}}, 400)
    assert answer["error"]["code"] == "invalid_query"


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {},
        {"audience": {}},
        {"audience": [], "notification": {"title": "x"}},
        {"audience": {"channels": "news"}, "notification": {"title": "x"}},
        {"audience": {"users": [1]}, "notification": {"title": "x"}},
        {"audience": {"topics": ["x"]}, "notification": {"title": "x"}},
        {"audience": {}, "notification": {"title": 1}},
        {"audience": {}, "notification": {"title": "x", "icon": "y"}},
        {"audience": {}, "notification": {"title": "x", "image": "javascript:alert(1)"}},
        {"audience": {}, "data": "x"},
        {"audience": {}, "data": {"aps": 1}},
        {"audience": {}, "localized": {"not a tag!": {"title": "x"}}},
        {"audience": {}, "notification": {"title": "x"}, "badge": "double"},
        {"audience": {}, "notification": {"title": "x"}, "badge": True},
        {"audience": {}, "notification": {"title": "x"}, "priority": "urgent"},
        {"audience": {}, "notification": {"title": "x"}, "collapse_key": "x" * 65},
        {"audience": {}, "notification": {"title": "x"}, "send_at": "tomorrow"},
        {"audience": {}, "notification": {"title": "x"}, "send_at": "2026-12-06T09:00:00"},
        {"audience": {}, "notification": {"title": "x"}, "send_at": "2099-01-01T00:00:00Z"},
        {"audience": {}, "notification": {"title": "x"}, "local_time": True},
        {"audience": {}, "notification": {"title": "x"}, "local_time": True, "send_at": "0001-01-01T00:00:00"},
        {"audience": {}, "notification": {"title": "x"}, "send_at": "9999-12-31T23:59:59Z"},
        {"audience": {}, "notification": {"title": "x"}, "expires_at": "9999-12-31T23:59:59Z"},
        {"audience": {}, "notification": {"title": "x"}, "local_time": "yes", "send_at": "2026-12-06T09:00:00Z"},
        {"audience": {}, "notification": {"title": "x"}, "expires_at": "2000-01-01T00:00:00Z"},
        {"audience": {}, "notification": {"title": "x"}, "dry_run": 1},
        {"audience": {}, "notification": {"title": "x"}, "extra": 1},
    ],
)
def test_hostile_push_bodies_get_clear_json_errors(project, twins, body):
    from basalt.push.models import Push

    answer = _send(project, body, 400)
    assert answer["error"]["code"] in ("validation_failed", "invalid_query")
    assert Push.objects.count() == 0


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ({"notification": {"title": "a\x00b"}}, "notification.title"),
        ({"notification": {"title": "x"}, "localized": {"fr": {"body": "\x00"}}}, "localized.fr.body"),
        ({"data": {"k": ["\x00"]}}, "data"),
        ({"data": {"k\x00": 1}}, "data"),
    ],
)
def test_nul_text_in_a_push_is_refused_naming_the_field(project, twins, part, field):
    """PostgreSQL cannot store U+0000: a push carrying it was a 400 without details there, and queued
    on SQLite (to reach devices with it). Refused on both, naming the field, before anything is written."""
    from basalt.push.models import Push

    answer = _send(project, {"audience": {}, **part}, 400)
    assert answer["error"]["code"] == "validation_failed" and list(answer["error"]["details"]) == [field]
    assert Push.objects.count() == 0


def test_payload_past_a_providers_limit_is_refused_before_queueing(project, twins):
    from basalt.push.models import Delivery, Push

    register(key_client(project.publishable), "fcm", "a" * 30)
    huge = _send(project, {"audience": {}, "data": {"blob": "x" * 5000}}, 400)
    assert set(huge["error"]["details"]) == {"payload.fcm", "payload.apns", "payload.webpush"}
    # Fits FCM and APNs, not Web Push once the aes128gcm overhead is added.
    near = _send(project, {"audience": {}, "data": {"blob": "x" * 3980}}, 400)
    assert set(near["error"]["details"]) == {"payload.webpush"}
    french = _send(
        project, {"audience": {}, "notification": {"title": "x"}, "localized": {"fr": {"body": "é" * 2100}}}, 400
    )
    assert french["error"]["code"] == "validation_failed"
    assert Push.objects.count() == 0 and Delivery.objects.count() == 0


def test_localized_texts_fall_back_and_badges_increment(project, twins):
    device = key_client(project.publishable)
    register(device, "apns", apns_token(1), locale="fr-CA", badge=4)
    register(device, "apns", apns_token(2), locale="pt-BR")
    register(device, "apns", apns_token(3))
    body = {
        "audience": {},
        "notification": {"title": "Hello", "body": "Default"},
        "localized": {"fr": {"title": "Bonjour"}, "pt-BR": {"title": "Olá", "body": "Padrão"}},
        "badge": "increment",
    }
    first = _send(project, body)
    assert _get(project, first["id"])["status"] == "done"
    _send(project, body)
    sent = twins["apns"].sent
    texts = {token: t for token, t, _, _ in sent[:3]}
    assert texts[apns_token(1)] == {"title": "Bonjour", "body": "Default"}
    assert texts[apns_token(2)] == {"title": "Olá", "body": "Padrão"}
    assert texts[apns_token(3)] == {"title": "Hello", "body": "Default"}
    badges = {}
    for token, _, badge, _ in sent:
        badges.setdefault(token, []).append(badge)
    assert badges[apns_token(1)] == [5, 6] and badges[apns_token(3)] == [1, 2]
    listed = key_client(project.secret).get("/api/v1/installations", {"where": json.dumps({"badge": 6})}).json()
    assert [i["token"] for i in listed["results"]] == [apns_token(1)]


def test_send_at_later_and_cancel_before_it(project, twins, clock_at):
    device = key_client(project.publishable)
    register(device, "fcm", "a" * 30)
    start = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    clock_at(start)
    later = _send(project, {"audience": {}, "notification": {"title": "later"}, "send_at": "2026-12-05T13:00:00.000Z"})
    cancelled = _send(project, {"audience": {}, "notification": {"title": "never"}, "send_at": "2026-12-05T13:00:00Z"})
    assert later["status"] == "scheduled"
    from basalt.push import tasks

    tasks.tick()
    assert twins["fcm"].sent == []
    gone = key_client(project.secret).delete(f"/api/v1/push/{cancelled['id']}")
    assert gone.status_code == 200 and gone.json()["status"] == "cancelled"
    assert key_client(project.secret).delete(f"/api/v1/push/{cancelled['id']}").status_code == 409
    clock_at(start + timedelta(hours=1, seconds=1))
    tasks.tick()
    assert [texts["title"] for _, texts, _, _ in twins["fcm"].sent] == ["later"]
    assert _get(project, later["id"])["counts"]["sent"] == 1
    assert _get(project, cancelled["id"])["counts"]["targeted"] == 0


def test_cancel_stops_what_has_not_been_sent(project, twins, clock_at):
    from basalt.push import engine, tasks

    device = key_client(project.publishable)
    for n in range(6):
        register(device, "fcm", f"{n}" * 30)
    start = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    clock_at(start)
    push = _send(project, {"audience": {}, "notification": {"title": "x"}, "send_at": "2026-12-05T12:10:00Z"})
    clock_at(start + timedelta(minutes=10))
    twins["fcm"].batch_size = 2
    engine.fan_out(push["id"])
    engine.run(push["id"], max_batches=1)
    assert len(twins["fcm"].sent) == 2
    answer = key_client(project.secret).delete(f"/api/v1/push/{push['id']}").json()
    assert answer["status"] == "cancelled" and answer["counts"]["cancelled"] == 4 and answer["counts"]["sent"] == 2
    tasks.tick()
    assert len(twins["fcm"].sent) == 2


# 24 zones, one per whole-hour offset from UTC-11 to UTC+12 (December: no DST surprises in these).
ZONES = [
    "Pacific/Pago_Pago",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/Sao_Paulo",
    "Atlantic/South_Georgia",
    "Atlantic/Cape_Verde",
    "UTC",
    "Europe/Paris",
    "Europe/Athens",
    "Europe/Moscow",
    "Asia/Dubai",
    "Asia/Karachi",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Brisbane",
    "Pacific/Noumea",
    "Pacific/Fiji",
]


def test_local_time_delivers_in_each_timezone_never_before(project, twins, clock_at):
    from zoneinfo import ZoneInfo

    from basalt.push import tasks

    device = key_client(project.publishable)
    for n, zone in enumerate(ZONES):
        register(device, "fcm", f"tok{n:02d}" + "z" * 30, timezone=zone)
    clock_at(datetime(2026, 12, 5, 8, 0, tzinfo=UTC))
    push = _send(
        project,
        {"audience": {}, "notification": {"title": "9 am"}, "send_at": "2026-12-06T09:00:00", "local_time": True},
    )
    due = {
        f"tok{n:02d}" + "z" * 30: datetime(2026, 12, 6, 9, 0, tzinfo=ZoneInfo(zone)).astimezone(UTC)
        for n, zone in enumerate(ZONES)
    }
    assert len(set(due.values())) == 24
    for token, moment in sorted(due.items(), key=lambda item: item[1]):
        clock_at(moment - timedelta(seconds=1))
        tasks.tick()
        assert token not in {sent[0] for sent in twins["fcm"].sent}, f"{token} delivered before its local 9:00"
        clock_at(moment + timedelta(seconds=30))
        tasks.tick()
        delivered = {sent[0]: sent[3] for sent in twins["fcm"].sent}
        assert token in delivered and moment <= delivered[token] < moment + timedelta(seconds=60)
    answer = _get(project, push["id"])
    assert answer["status"] == "done" and answer["counts"]["sent"] == 24


def test_retries_end_in_failed_with_a_reason_and_auth_stops_one_provider(project, twins, clock_at):
    from basalt.push import tasks

    device = key_client(project.publishable)
    register(device, "fcm", "r" * 30)
    register(device, "apns", apns_token(9))
    twins["fcm"].script["r" * 30] = ["retry"] * 10
    twins["apns"].script[apns_token(9)] = ["auth"]
    moment = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    clock_at(moment)
    push = _send(project, {"audience": {}, "notification": {"title": "x"}})
    for _ in range(10):
        moment += timedelta(hours=1)
        clock_at(moment)
        tasks.tick()
    answer = _get(project, push["id"])
    assert answer["status"] == "failed" and "apns" in answer["error"]
    assert answer["counts"]["providers"]["fcm"]["failed"] == 1 and answer["counts"]["providers"]["apns"]["failed"] == 1
    from basalt.push.models import Delivery

    reason = Delivery.objects.get(provider="fcm").reason
    assert reason.startswith("gave up after 5 attempts")
    assert len(twins["fcm"].script["r" * 30]) == 5


def test_history_lists_newest_first_with_a_cursor(project, twins):
    ids = [_send(project, {"audience": {}, "notification": {"title": f"n{n}"}})["id"] for n in range(3)]
    secret = key_client(project.secret)
    first = secret.get("/api/v1/push", {"limit": 2}).json()
    assert [p["id"] for p in first["results"]] == ids[::-1][:2]
    second = secret.get("/api/v1/push", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [p["id"] for p in second["results"]] == ids[:1] and second["next_cursor"] is None
    assert secret.get("/api/v1/push", {"limit": "x"}).status_code == 400
    assert secret.get("/api/v1/push", {"cursor": "%%%"}).status_code == 400


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_past_year_1_or_9999_in_utc_are_400s_not_500s(project, twins, moment):
    """Converting such a time to UTC raised OverflowError: a 500 for send_at, expires_at and a forged cursor."""
    for field in ("send_at", "expires_at"):
        body = _send(project, {"audience": {}, "notification": {"title": "x"}, field: moment}, 400)
        assert body["error"]["details"] == {field: ["The date is out of range."]}
    cursor = base64.urlsafe_b64encode(f"{moment}|p1".encode()).decode()
    answer = key_client(project.secret).get("/api/v1/push", {"cursor": cursor})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_query"
    from basalt.push.models import Push

    assert not Push.objects.exists()


def test_another_project_cannot_read_or_cancel_a_push(project, twins, make_project):
    push = _send(project, {"audience": {}, "notification": {"title": "x"}, "send_at": "2026-12-30T00:00:00Z"})
    other = key_client(make_project().secret)
    assert other.get(f"/api/v1/push/{push['id']}").status_code == 404
    assert other.delete(f"/api/v1/push/{push['id']}").status_code == 404
    assert other.get("/api/v1/push").json()["results"] == []
    assert key_client(project.secret).get("/api/v1/push/p_missing").status_code == 404


def test_credentials_are_validated_sealed_and_never_returned(project, settings):
    from tests.conftest import console_client_for

    # Production rule: a service account's token URI must be Google's (no SSRF through it).
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    from tests.push import keys

    console = console_client_for(project.owner)
    ref = project.project.ref
    path = f"/api/v1/manage/projects/{ref}/settings"
    section = keys.apns_section()
    answer = console.patch(path, {"push": {"apns": section, "webpush": {"generate": True}}}, format="json")
    assert answer.status_code == 200, answer.content
    shown = answer.json()["push"] if "push" in answer.json() else answer.json()["settings"]["push"]
    assert shown["apns"] == {
        "configured": True,
        "key_id": "ABCDE12345",
        "team_id": "TEAM123456",
        "bundle_id": "com.example.app",
        "sandbox": True,
    }
    assert "sealed" not in json.dumps(answer.json()) and "PRIVATE KEY" not in json.dumps(answer.json())
    project.project.refresh_from_db()
    stored = json.dumps(project.project.settings)
    assert "PRIVATE KEY" not in stored and section["key"][40:80] not in stored
    for bad in (
        {"apns": {**section, "key": "not a key"}},
        {"apns": {**section, "key_id": "short"}},
        {"fcm": {"service_account": {"type": "user"}}},
        {"fcm": {"service_account": "{"}},
        {"fcm": {"service_account": keys.service_account("http://169.254.169.254/token")}},
        {"webpush": {"private_key": "abc"}},
        {"webpush": {}},
        {"gcm": {}},
        "x",
    ):
        refused = console.patch(path, {"push": bad}, format="json")
        assert refused.status_code == 400, (bad, refused.content)
    removed = console.patch(path, {"push": {"apns": None}}, format="json").json()
    shown = removed["push"] if "push" in removed else removed["settings"]["push"]
    assert shown["apns"] == {"configured": False}


def test_usage_counts_pushes_per_day(project, twins):
    from tests.conftest import console_client_for

    _send(project, {"audience": {}, "notification": {"title": "one"}})
    _send(project, {"audience": {}, "notification": {"title": "two"}})
    _send(project, {"audience": {}, "notification": {"title": "dry"}, "dry_run": True}, 200)
    usage = console_client_for(project.owner).get(f"/api/v1/manage/projects/{project.project.ref}/usage").json()
    assert usage["days"][-1]["pushes"] == 2, usage["days"][-1]


def test_large_numbers_in_a_push_read_back_as_sent(project, twins):
    # PostgreSQL's jsonb prints 1e20 as a 21-digit integer; read back by the standard library it was past
    # what a JSON renderer takes, and the push history answered 500 (found by the contract fuzzer).
    data = {"big": 1e20, "tiny": -1e30, "huge": 1.5e300, "plain": 7, "wide": 18446744073709551615}
    audience = {"where": {"badge": {"$lt": 1e25}}}
    push = _send(project, {"audience": audience, "data": data, "send_at": "2026-12-30T00:00:00Z"})
    secret = key_client(project.secret)
    listed = secret.get("/api/v1/push")
    assert listed.status_code == 200, listed.content
    for answer in (listed.json()["results"][0], secret.get(f"/api/v1/push/{push['id']}").json()):
        assert answer["id"] == push["id"]
        assert answer["data"] == data
        assert answer["audience"] == audience

"""Several runs on one push: a second fan-out takes turns chunk by chunk (nothing written or raised
twice), and helper runs send alongside the run that fans out without fanning out themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.push.conftest import apns_token, key_client, register

pytestmark = pytest.mark.django_db(transaction=True)


def _scheduled(project, body: dict, monkeypatch) -> str:
    """A push created for later, then the clock moved past it: nothing has run it yet."""
    from basalt.push import clock

    start = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: start)
    response = key_client(project.secret).post(
        "/api/v1/push", {**body, "send_at": "2026-12-05T12:10:00Z"}, format="json"
    )
    assert response.status_code == 202, response.content
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(minutes=10))
    return response.json()["id"]


def test_a_second_fan_out_during_the_first_writes_nothing_twice(project, twins, monkeypatch):
    from basalt.push import audience, engine
    from basalt.push.models import Delivery

    device = key_client(project.publishable)
    tokens = [apns_token(n) for n in range(1, 8)]
    for token in tokens:
        register(device, "apns", token, badge=10)
    push_id = _scheduled(project, {"audience": {}, "notification": {"title": "x"}, "badge": "increment"}, monkeypatch)
    monkeypatch.setattr(audience, "CHUNK", 2)
    # A second run (a tick's, or a helper's) fans the rest out while the first is between chunks.
    assert engine.fan_out(push_id, on_first_chunk=lambda: engine.fan_out(push_id)) is True
    deliveries = Delivery.objects.filter(push_id=push_id)
    assert deliveries.count() == 7
    # Every badge raised exactly once, and each delivery carries the raised value.
    assert sorted(deliveries.values_list("badge", flat=True)) == [11] * 7
    listed = key_client(project.secret).get("/api/v1/installations", {"limit": 50}).json()["results"]
    assert sorted(i["badge"] for i in listed) == [11] * 7


def test_the_fanning_out_run_asks_for_helpers_once_its_first_chunk_is_written(project, twins, monkeypatch, settings):
    from basalt.celery import app
    from basalt.push import audience, tasks
    from basalt.push.models import Delivery

    device = key_client(project.publishable)
    for n in range(1, 6):
        register(device, "fcm", f"{n}" * 30)
    push_id = _scheduled(project, {"audience": {}, "notification": {"title": "x"}}, monkeypatch)
    monkeypatch.setattr(audience, "CHUNK", 2)
    settings.PUSH_SEND_TASKS = 3
    asked = []

    def enqueue(args, kwargs):
        # Asked right after the first chunk's commit: two deliveries exist, the rest not yet.
        asked.append((args, kwargs, Delivery.objects.filter(push_id=push_id).count()))

    monkeypatch.setattr(tasks.run_push, "apply_async", lambda args, kwargs=None, **_: enqueue(args, kwargs))
    monkeypatch.setattr(tasks, "_again_later", lambda push_id: None)
    app.conf.task_always_eager = False  # a worker with a broker (the eager_tasks fixture restores it)
    try:
        assert tasks.run_push(push_id) == "done"
    finally:
        app.conf.task_always_eager = True
    assert asked == [([push_id], {"helper": True}, 2)] * 2
    assert len(twins["fcm"].sent) == 5


def test_a_helper_sends_what_exists_and_never_fans_out(project, twins, monkeypatch):
    from basalt.push import engine, tasks
    from basalt.push.models import Delivery, Push

    device = key_client(project.publishable)
    for n in range(1, 4):
        register(device, "fcm", f"{n}" * 30)
    push_id = _scheduled(project, {"audience": {}, "notification": {"title": "x"}}, monkeypatch)
    Push.objects.filter(pk=push_id).update(status=Push.SENDING)
    monkeypatch.setattr(engine, "HELPER_IDLE_SECONDS", 0.3)
    # Nothing fanned out yet: the helper waits a little, writes nothing, sends nothing.
    assert tasks.run_push(push_id, helper=True) == "sending"
    assert Delivery.objects.filter(push_id=push_id).count() == 0 and twins["fcm"].sent == []
    assert engine.fan_out(push_id) is True
    assert tasks.run_push(push_id, helper=True) == "done"
    assert len(twins["fcm"].sent) == 3


def _rows(push_id: str) -> list[tuple]:
    from basalt.push.models import Delivery

    return sorted(
        Delivery.objects.filter(push_id=push_id).values_list(
            "installation_id", "provider", "token", "locale", "status", "due_at", "attempts"
        )
    )


def test_a_push_without_badges_writes_the_same_deliveries_as_one_with_them(project, twins, monkeypatch):
    """Without badge or local time, PostgreSQL copies the audience into deliveries in SQL; with a
    badge, rows pass through Python. Both write one row per targeted installation with the same
    snapshot (provider, token, locale), chunk after chunk, nothing twice."""
    from basalt.push import audience, engine
    from basalt.push.models import Delivery, Push

    device = key_client(project.publishable)
    locales = [{"locale": "de-AT"}, {}, {"locale": "zh-Hant-TW"}, {"locale": "pt_BR"}]
    for n in range(1, 8):
        register(device, "apns", apns_token(n), **locales[n % len(locales)])
    register(device, "fcm", "f" * 40)  # not in the audience
    monkeypatch.setattr(audience, "CHUNK", 3)
    body = {"audience": {"where": {"provider": "apns"}}, "notification": {"title": "x"}}
    plain = _scheduled(project, body, monkeypatch)
    badged = _scheduled(project, {**body, "badge": 4}, monkeypatch)
    for push_id in (plain, badged):
        assert engine.fan_out(push_id) is True
        assert Push.objects.get(pk=push_id).fanned_out
        # A re-run after the end writes nothing more.
        assert engine.fan_out(push_id) is False
    rows = _rows(plain)
    assert rows == _rows(badged)
    assert len(rows) == 7 and {row[1] for row in rows} == {"apns"}
    assert sorted(row[2] for row in rows) == [apns_token(n) for n in range(1, 8)]
    assert {row[3] for row in rows} == {"de-AT", "", "zh-Hant-TW", "pt-BR"}
    assert {row[4] for row in rows} == {"pending"}
    assert {row[5] for row in rows} == {Push.objects.get(pk=plain).send_at}
    assert set(Delivery.objects.filter(push_id=plain).values_list("badge", flat=True)) == {None}
    assert set(Delivery.objects.filter(push_id=badged).values_list("badge", flat=True)) == {4}


def test_a_fan_out_resumed_after_a_crash_mid_audience_writes_each_installation_once(project, twins, monkeypatch):
    from basalt.push import audience, engine
    from basalt.push.models import Delivery, Push

    device = key_client(project.publishable)
    for n in range(1, 11):
        register(device, "fcm", f"{n:02d}" * 15)
    push_id = _scheduled(project, {"audience": {}, "notification": {"title": "x"}}, monkeypatch)
    monkeypatch.setattr(audience, "CHUNK", 4)
    # The first run stops after its first chunk (killed), the position it recorded is kept.
    with pytest.raises(RuntimeError):
        engine.fan_out(push_id, on_first_chunk=lambda: (_ for _ in ()).throw(RuntimeError("killed")))
    first = Push.objects.get(pk=push_id)
    assert not first.fanned_out and first.fan_out_after
    assert Delivery.objects.filter(push_id=push_id).count() == 4
    assert engine.fan_out(push_id) is True
    ids = list(Delivery.objects.filter(push_id=push_id).values_list("installation_id", flat=True))
    assert len(ids) == len(set(ids)) == 10

"""What the push engine changes on installations (badges raised at fan-out, tokens a provider refused
deactivated) goes through the documents service: a new version and a change-log row per installation,
heard by the change-log listeners (realtime, webhooks) after commit; in batches, not a round trip each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.push.conftest import apns_token, key_client, register

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """What the change-log listeners (realtime's hub, webhooks) are handed, after commit."""
    from basalt.documents import changefeed

    class Heard(list):
        """Rows written by a plain transaction are numbered, and announced, by the process's settler
        right after the commit: what was written before a clear() is heard before it."""

        def clear(self) -> None:
            assert changefeed.wait_settled(30)
            super().clear()

    received = Heard()
    changefeed.register(received.append)
    yield received
    changefeed.unregister(received.append)


def _send(project, body: dict) -> dict:
    response = key_client(project.secret).post("/api/v1/push", body, format="json")
    assert response.status_code == 202, response.content
    return key_client(project.secret).get(f"/api/v1/push/{response.json()['id']}").json()


def _installation_changes(project, heard):
    from basalt.documents import changefeed
    from basalt.documents.models import ChangeLogEntry

    assert changefeed.wait_settled(30)

    rows = list(
        ChangeLogEntry.objects.filter(project_id=project.project.pk, collection="installations", type="update")
        .exclude(seq=None)
        .order_by("seq")
    )
    listened = [c for c in heard if c.project_id == project.project.pk and c.collection == "installations"]
    return rows, listened


def test_badge_increments_are_updates_in_the_change_log(project, twins, heard):
    device = key_client(project.publishable)
    first = register(device, "apns", apns_token(1), badge=4)
    second = register(device, "apns", apns_token(2))
    heard.clear()
    push = _send(project, {"audience": {}, "notification": {"title": "Hi"}, "badge": "increment"})
    assert push["status"] == "done"
    rows, listened = _installation_changes(project, heard)
    assert {row.document_id: (row.before["badge"], row.after["badge"]) for row in rows} == {
        first["id"]: (4, 5),
        second["id"]: (0, 1),
    }
    assert {(c.document_id, c.after["badge"]) for c in listened} == {(first["id"], 5), (second["id"], 1)}
    assert sorted(c.seq for c in listened) == [row.seq for row in rows]
    # A REST read shows the write as any other: the badge and a new version (ETag).
    answer = key_client(project.secret).get(f"/api/v1/collections/installations/documents/{first['id']}")
    assert answer.json()["badge"] == 5 and answer["ETag"] == '"2"'
    sent = {token: badge for token, _, badge, _ in twins["apns"].sent}
    assert sent == {apns_token(1): 5, apns_token(2): 1}


def test_a_set_badge_only_writes_installations_it_changes(project, twins, heard):
    device = key_client(project.publishable)
    same = register(device, "apns", apns_token(1), badge=3)
    other = register(device, "apns", apns_token(2), badge=9)
    heard.clear()
    _send(project, {"audience": {}, "notification": {"title": "Hi"}, "badge": 3})
    rows, _ = _installation_changes(project, heard)
    assert [row.document_id for row in rows] == [other["id"]]
    assert {token: badge for token, _, badge, _ in twins["apns"].sent} == {apns_token(1): 3, apns_token(2): 3}
    assert same["id"] not in {row.document_id for row in rows}


def test_invalid_tokens_deactivate_through_the_change_log(project, twins, heard):
    device = key_client(project.publishable)
    kept = register(device, "apns", apns_token(1))
    gone = register(device, "apns", apns_token(2))
    twins["apns"].script[apns_token(2)] = ["invalid"]
    heard.clear()
    push = _send(project, {"audience": {}, "notification": {"title": "Hi"}})
    assert push["counts"]["invalid_tokens"] == 1
    rows, listened = _installation_changes(project, heard)
    assert [(row.document_id, row.before["active"], row.after["active"]) for row in rows] == [(gone["id"], True, False)]
    assert [(c.document_id, c.after["active"]) for c in listened] == [(gone["id"], False)]
    secret = key_client(project.secret)
    assert secret.get(f"/api/v1/installations/{gone['id']}").json()["active"] is False
    assert secret.get(f"/api/v1/installations/{kept['id']}").json()["active"] is True


def test_fan_out_edits_badges_in_batches_not_a_round_trip_each(project, twins, django_assert_max_num_queries):
    from basalt.push import bulk, engine
    from basalt.push.models import Push

    count = 1200
    bulk.insert_installations(
        project.project, ({"provider": "apns", "token": apns_token(n), "badge": 1} for n in range(count))
    )
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = key_client(project.secret).post(
        "/api/v1/push",
        {"audience": {}, "notification": {"title": "Hi"}, "badge": "increment", "send_at": later},
        format="json",
    )
    assert response.status_code == 202, response.content
    push_id = response.json()["id"]
    Push.objects.filter(pk=push_id).update(fan_out_at=Push.objects.get(pk=push_id).created_at)
    # One chunk of 1,200: a fixed number of statements, whatever the audience size.
    with django_assert_max_num_queries(45):
        assert engine.fan_out(push_id)
    from basalt.documents.models import ChangeLogEntry

    assert ChangeLogEntry.objects.filter(project_id=project.project.pk, collection="installations").count() == count


def test_a_batch_of_invalid_tokens_is_recorded_in_a_few_statements(
    project, twins, heard, django_assert_max_num_queries
):
    """300 refused tokens: deliveries marked and installations deactivated (each a change-log row),
    in a bounded number of statements, not one or two per delivery."""
    from basalt.documents.models import ChangeLogEntry
    from basalt.push import bulk, engine
    from basalt.push.models import Delivery, Push

    count = 300
    bulk.insert_installations(project.project, ({"provider": "apns", "token": apns_token(n)} for n in range(count)))
    for n in range(count):
        twins["apns"].script[apns_token(n)] = ["invalid"]
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = key_client(project.secret).post(
        "/api/v1/push", {"audience": {}, "notification": {"title": "Hi"}, "send_at": later}, format="json"
    )
    push_id = response.json()["id"]
    # Due now (scheduled above only so that the POST did not already run it inline).
    Push.objects.filter(pk=push_id).update(fan_out_at=Push.objects.get(pk=push_id).created_at, send_at=None)
    with django_assert_max_num_queries(60):
        engine.run(push_id)
    assert Delivery.objects.filter(push_id=push_id, status=Delivery.INVALID).count() == count
    rows = ChangeLogEntry.objects.filter(project_id=project.project.pk, collection="installations", type="update")
    assert rows.count() == count and all(row.after["active"] is False for row in rows)

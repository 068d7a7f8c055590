"""Installations: register with the publishable key, upsert by token, owner/secret writes, token privacy."""

from __future__ import annotations

import pytest

from tests.push.conftest import apns_token, key_client

pytestmark = pytest.mark.django_db(transaction=True)


def _register(client, token: str, **extra):
    body = {"platform": "android", "provider": "fcm", "token": token, **extra}
    return client.post("/api/v1/installations", body, format="json")


def test_register_links_the_signed_in_user_and_upserts_by_token(project, signup, fcm_token):
    user_id, user = signup()
    token = fcm_token()
    first = _register(user, token, channels=["news", "news", "sport"], locale="fr-FR", timezone="Europe/Paris")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["user"] == user_id and body["active"] is True and body["channels"] == ["news", "sport"]
    again = _register(user, token, app_version="2.0")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert again.json()["app_version"] == "2.0" and again.json()["locale"] == "fr-FR"
    listed = key_client(project.secret).get("/api/v1/installations").json()["results"]
    assert [i["id"] for i in listed] == [body["id"]]


def test_signed_out_registration_unlinks_the_device(project, signup, fcm_token):
    _, user = signup()
    token = fcm_token()
    _register(user, token)
    anonymous = _register(key_client(project.publishable), token)
    assert anonymous.status_code == 200 and "user" not in anonymous.json()


def test_only_the_owner_or_secret_key_changes_or_deletes(project, signup, fcm_token):
    owner_id, owner = signup()
    _, stranger = signup()
    created = _register(owner, fcm_token()).json()
    path = f"/api/v1/installations/{created['id']}"
    assert stranger.patch(path, {"channels": ["x"]}, format="json").status_code == 404
    assert stranger.delete(path).status_code == 404
    assert key_client(project.publishable).patch(path, {"channels": ["x"]}, format="json").status_code == 404
    assert owner.patch(path, {"channels": ["y"]}, format="json").json()["channels"] == ["y"]
    secret = key_client(project.secret)
    assert secret.patch(path, {"badge": 3}, format="json").json()["badge"] == 3
    assert owner.get("/api/v1/installations").json()["results"][0]["id"] == created["id"]
    assert stranger.get("/api/v1/installations").json()["results"] == []
    assert owner.delete(path).status_code == 204
    assert secret.get(path).status_code == 404


def test_a_device_registered_signed_out_is_claimed_by_the_signed_in_user_and_by_no_one_else(project, signup, fcm_token):
    """The app registers at launch signed out, then links the device after sign-in with a PATCH
    naming itself; nobody may name another user, and an owned device is nobody else's to take."""
    alice_id, alice = signup()
    bob_id, bob = signup()
    device = _register(key_client(project.publishable), fcm_token(), channels=["news"]).json()
    assert "user" not in device
    path = f"/api/v1/installations/{device['id']}"
    # Signed out, the device still changes its own ownerless installation (it holds its id).
    assert key_client(project.publishable).patch(path, {"badge": 2}, format="json").json()["badge"] == 2
    forged = alice.patch(path, {"user": bob_id, "channels": ["x"]}, format="json")
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "validation_failed"
    claimed = alice.patch(path, {"user": alice_id}, format="json")
    assert claimed.status_code == 200, claimed.content
    assert claimed.json()["user"] == alice_id and claimed.json()["channels"] == ["news"]
    assert [i["id"] for i in alice.get("/api/v1/installations").json()["results"]] == [device["id"]]
    # Owned now: bob (or a signed-out caller) gets what a missing id gets, and nothing changes.
    missing = bob.patch("/api/v1/installations/" + "z" * 20, {"user": bob_id}, format="json")
    for caller, body in ((bob, {"user": bob_id}), (bob, {"badge": 9}), (key_client(project.publishable), {"badge": 9})):
        taken = caller.patch(path, body, format="json")
        assert taken.status_code == 404 and taken.json() == missing.json()
    assert bob.get(path).status_code == 404
    after = key_client(project.secret).get(path).json()
    assert after["user"] == alice_id and after["badge"] == 2 and after["channels"] == ["news"]


def test_an_ownerless_device_with_a_parse_installation_id_needs_it_presented(project, signup, fcm_token):
    alice_id, alice = signup()
    device = _register(key_client(project.publishable), fcm_token(), custom={"installation_id": "iid-1"}).json()
    path = f"/api/v1/installations/{device['id']}"
    assert alice.patch(path, {"user": alice_id}, format="json").status_code == 404
    assert alice.get(path).status_code == 404
    assert "user" not in key_client(project.secret).get(path).json()


def test_user_field_cannot_be_forged_by_a_client(project, signup, fcm_token):
    victim_id, _ = signup()
    _, attacker = signup()
    response = _register(attacker, fcm_token(), user=victim_id)
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_failed"


def test_token_is_never_readable_through_the_documents_api_by_others(project, signup, fcm_token):
    from basalt.documents.catalog import update_collection

    _, user = signup()
    created = _register(user, fcm_token()).json()
    docs = "/api/v1/collections/installations/documents"
    assert user.get(docs).status_code == 403
    # Opening reads to signed-in users still hides the token (locked protected field).
    update_collection(
        project.project, "installations", {"permissions": {"find": ["authenticated"], "get": ["authenticated"]}}
    )
    found = user.get(docs).json()["results"]
    assert [d["id"] for d in found] == [created["id"]] and "token" not in found[0]
    from basalt.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        update_collection(project.project, "installations", {"protected_fields": {}})
    secret_view = key_client(project.secret).get(f"{docs}/{created['id']}").json()
    assert secret_view["token"] == created["token"]


def test_documents_api_cannot_write_builtin_installation_fields(project, fcm_token):
    secret = key_client(project.secret)
    docs = "/api/v1/collections/installations/documents"
    assert secret.post(docs, {"token": "t"}, format="json").status_code == 403
    created = _register(key_client(project.publishable), fcm_token()).json()
    refused = secret.patch(f"{docs}/{created['id']}", {"user": "someone"}, format="json")
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"platform": "android", "provider": "fcm"},
        {"platform": "tv", "provider": "fcm", "token": "a" * 30},
        {"platform": "android", "provider": "apns", "token": apns_token(1)},
        {"platform": "ios", "provider": "apns", "token": "not-hex"},
        {"platform": "web", "provider": "webpush", "token": "{not json"},
        {
            "platform": "web",
            "provider": "webpush",
            "token": '{"endpoint": "ftp://x", "keys": {"p256dh": "a", "auth": "b"}}',
        },
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "timezone": "Mars/Olympus"},
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "timezone": "../../etc/passwd"},
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "locale": "x" * 100},
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "channels": "news"},
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "channels": ["ok", {"$gt": 1}]},
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "badge": -1},
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "active": False},
        {"platform": "android", "provider": "fcm", "token": "a" * 5000},
        # PostgreSQL cannot store U+0000; SQLite stored it.
        {"platform": "android", "provider": "fcm", "token": "a" * 30, "app_version": "1\x00"},
    ],
)
def test_hostile_registrations_get_clear_json_errors(project, body):
    response = key_client(project.publishable).post("/api/v1/installations", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in ("validation_failed", "invalid_json")


def test_registration_needs_a_key_and_listing_needs_more_than_the_publishable_key(project, fcm_token):
    from rest_framework.test import APIClient

    assert APIClient().post("/api/v1/installations", {}, format="json").status_code == 401
    assert key_client(project.publishable).get("/api/v1/installations").status_code == 401


def test_another_projects_keys_reach_nothing(project, make_project, fcm_token):
    other = make_project()
    created = _register(key_client(project.publishable), fcm_token()).json()
    foreign = key_client(other.secret)
    assert foreign.get(f"/api/v1/installations/{created['id']}").status_code == 404
    assert foreign.delete(f"/api/v1/installations/{created['id']}").status_code == 404
    assert foreign.get("/api/v1/installations").json()["results"] == []


def test_listing_checks_its_query_like_a_collection_query(project, fcm_token):
    secret = key_client(project.secret)
    for token in (fcm_token(), fcm_token()):
        assert _register(key_client(project.publishable), token).status_code == 201
    counted = secret.get("/api/v1/installations", {"count": "true", "limit": "1", "order": "-created_at"})
    assert counted.status_code == 200 and counted.json()["count"] == 2 and len(counted.json()["results"]) == 1
    # A fuzzer finding: a `count` outside true/false was taken as false, and a non-ASCII digit as a limit.
    for bad in ({"count": "\U000bb31c"}, {"count": "yes"}, {"limit": "\u0663"}, {"limit": "-1"}, {"colour": "red"}):
        response = secret.get("/api/v1/installations", bad)
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["error"]["code"] == "invalid_query"


def test_channel_operations_subscribe_and_unsubscribe_without_the_whole_list(project, signup, fcm_token):
    _, user = signup()
    token = fcm_token()
    created = _register(user, token, channels={"__op": "add_unique", "items": ["news"]})
    assert created.status_code == 201 and created.json()["channels"] == ["news"], created.content
    path = f"/api/v1/installations/{created.json()['id']}"

    def change(channels, status=200):
        answer = user.patch(path, {"channels": channels}, format="json")
        assert answer.status_code == status, answer.content
        return answer.json()

    assert change({"__op": "add_unique", "items": ["sport", "news"]})["channels"] == ["news", "sport"]
    assert change({"__op": "add", "items": ["sport", "tech"]})["channels"] == ["news", "sport", "tech"]
    assert change({"__op": "remove", "items": ["news", "never-there"]})["channels"] == ["sport", "tech"]
    # Registering the same token again applies the operation to that device's channels.
    again = _register(user, token, channels={"__op": "add_unique", "items": ["weather"]})
    assert again.status_code == 200 and again.json()["channels"] == ["sport", "tech", "weather"]
    assert change(["only"])["channels"] == ["only"]

    hostile = [
        {"__op": "increment", "items": ["x"]},
        {"__op": ["add_unique"], "items": ["x"]},
        {"__op": {"a": 1}, "items": ["x"]},
        {"__op": "add_unique", "items": [["x"]]},
        {"__op": "add_unique", "items": [{"x": 1}]},
        {"__op": "add_unique"},
        {"__op": "add_unique", "items": "news"},
        {"__op": "add_unique", "items": ["bad name"]},
        {"__op": "add_unique", "items": ["x"], "extra": 1},
        {"__op": "add_unique", "items": [f"c{n}" for n in range(101)]},
    ]
    for channels in hostile:
        error = change(channels, 400)["error"]
        assert error["code"] == "validation_failed" and "channels" in error["details"], error
    # Past the limit only once applied: 99 more on top of one is 100, one more is refused.
    assert len(change({"__op": "add", "items": [f"c{n}" for n in range(99)]})["channels"]) == 100
    assert change({"__op": "add", "items": ["one-more"]}, 400)["error"]["code"] == "validation_failed"
    assert len(user.get(path).json()["channels"]) == 100


def test_channel_operations_made_at_once_all_stay(project, fcm_token):
    """Eight clients subscribe one device to a channel each, at the same moment: none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    secret = key_client(project.secret)
    created = _register(key_client(project.publishable), fcm_token())
    path = f"/api/v1/installations/{created.json()['id']}"

    def subscribe(n: int) -> int:
        try:
            body = {"channels": {"__op": "add_unique", "items": [f"team-{n}"]}}
            return key_client(project.secret).patch(path, body, format="json").status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(subscribe, range(8))) == [200] * 8
    assert secret.get(path).json()["channels"] == sorted(f"team-{n}" for n in range(8))

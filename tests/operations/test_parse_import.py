"""Import a Parse Server export (Parse Dashboard's per-class JSON files) and sign in with bcrypt hashes."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

import bcrypt
import pytest
from django.test import Client

from basalt.identity.models import EndUser
from tests.conftest import console_client_for
from tests.operations.conftest import key_client, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def parse_export() -> dict[str, object]:
    """What Parse Dashboard exports: one JSON per class (a `results` list), with Parse's own types."""
    ada_hash = bcrypt.hashpw(b"ada's parse password", bcrypt.gensalt(10)).decode().replace("$2b$", "$2a$", 1)
    bob_hash = bcrypt.hashpw(b"bob's parse password", bcrypt.gensalt(10)).decode()
    return {
        "_User.json": {"results": [
            {"objectId": "AdaX1", "username": "ada", "email": "ada@example.com", "emailVerified": True,
             "_hashed_password": ada_hash, "createdAt": "2024-01-02T03:04:05.678Z",
             "updatedAt": "2024-01-02T03:04:05.678Z",
             "nickName": "Countess", "ACL": {"*": {"read": True}, "AdaX1": {"read": True, "write": True}}},
            {"objectId": "BobY2", "username": "bob", "email": "bob@example.com", "_hashed_password": bob_hash,
             "createdAt": "2024-01-03T00:00:00.000Z", "updatedAt": "2024-01-03T00:00:00.000Z"},
        ]},
        "_Role.json": {"results": [
            {"objectId": "RoleA", "name": "Moderators", "ACL": {"*": {"read": True}},
             "createdAt": "2024-01-04T00:00:00.000Z", "updatedAt": "2024-01-04T00:00:00.000Z"},
        ]},
        "_Join:users:_Role.json": {"results": [{"owningId": "RoleA", "relatedId": "BobY2"}]},
        "GameScore.json": {"results": [
            {"objectId": "g1", "score": 1337, "playerName": "Sean Plott", "cheatMode": False,
             "player": {"__type": "Pointer", "className": "_User", "objectId": "AdaX1"},
             "playedAt": {"__type": "Date", "iso": "2024-02-01T10:00:00.000Z"},
             "where": {"__type": "GeoPoint", "latitude": 40.0, "longitude": -30.0},
             "createdAt": "2024-02-01T10:00:01.000Z", "updatedAt": "2024-02-01T10:00:02.000Z",
             "ACL": {"AdaX1": {"read": True, "write": True}}},
            {"objectId": "g2", "score": 7, "playerName": "Moderated", "cheatMode": True,
             "createdAt": "2024-02-02T10:00:00.000Z", "updatedAt": "2024-02-02T10:00:00.000Z",
             "ACL": {"role:Moderators": {"read": True}}},
            {"objectId": "g3", "score": 1, "playerName": "Open", "createdAt": "2024-02-03T10:00:00.000Z",
             "updatedAt": "2024-02-03T10:00:00.000Z"},
        ]},
        "_Session.json": {"results": [{"objectId": "s1", "sessionToken": "r:secret"}]},
    }  # fmt: skip


def as_zip(files: dict[str, object]) -> bytes:
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        for name, body in files.items():
            archive.writestr(f"export/{name}", json.dumps(body))
    return raw.getvalue()


def test_a_parse_dashboard_export_imports_and_its_users_sign_in_with_their_passwords(make_project):
    keys = make_project("From Parse")
    console = console_client_for(keys.owner)
    answer = console.generic(
        "POST", f"/api/v1/manage/projects/{keys.project.ref}/imports?from=parse", as_zip(parse_export()),
        content_type="application/zip",
    )  # fmt: skip
    assert answer.status_code == 202, answer.content
    status = console.get(answer.json()["url"]).json()
    assert status["status"] == "succeeded", status["error"]
    assert status["format"] == "parse"
    assert status["progress"]["skipped"] == []
    assert status["progress"]["sessions"] == {"imported": 0, "left_out": {"user": 1}}  # a session of nobody

    schema = console.get(f"/api/v1/manage/projects/{keys.project.ref}/collections/game_score").json()
    fields = schema["fields"]
    assert fields["score"]["type"] == "number" and fields["player_name"]["type"] == "string"
    assert fields["player"] == {"type": "pointer", "to": "users"}
    assert fields["played_at"]["type"] == "date" and fields["where"]["type"] == "geopoint"

    # bcrypt hashes ($2a$ from bcryptjs, $2b$) verify; the first sign-in rehashes with Argon2.
    ada_token = sign_in(keys.publishable, "ada@example.com", "ada's parse password")
    assert EndUser.objects.get(project=keys.project, email="ada@example.com").password.startswith("argon2")
    assert sign_in(keys.publishable, "ada@example.com", "ada's parse password")
    bad = key_client(keys.publishable).post(
        "/api/v1/auth/login", {"email": "bob@example.com", "password": "wrong"}, format="json"
    )
    assert bad.status_code == 401
    bob_token = sign_in(keys.publishable, "bob@example.com", "bob's parse password")

    # ACLs kept their meaning: ada reads her own score, bob (a Moderator) the moderated one, all the open one.
    def titles(token=None) -> set[str]:
        found = key_client(keys.publishable, token).get("/api/v1/collections/game_score/documents").json()
        return {doc["player_name"] for doc in found["results"]}

    assert titles(ada_token) == {"Sean Plott", "Open"}
    assert titles(bob_token) == {"Moderated", "Open"}
    assert titles() == {"Open"}
    me = key_client(keys.publishable, ada_token).get("/api/v1/auth/me").json()
    mine = (
        key_client(keys.publishable, ada_token)
        .get("/api/v1/collections/game_score/documents", {"where": json.dumps({"player": me["id"]})})
        .json()["results"]
    )
    assert [d["score"] for d in mine] == [1337]
    assert mine[0]["created_at"] == "2024-02-01T10:00:01.000Z"
    assert me.get("nick_name") == "Countess" or me.get("data", {}).get("nick_name") == "Countess"


def test_a_hostile_parse_export_is_refused(make_project):
    keys = make_project("Hostile")
    console = console_client_for(keys.owner)

    def refused(body: bytes) -> dict:
        answer = console.generic(
            "POST", f"/api/v1/manage/projects/{keys.project.ref}/imports?from=parse", body,
            content_type="application/octet-stream",
        )  # fmt: skip
        status = console.get(answer.json()["url"]).json()
        assert status["status"] == "failed", status
        return status["error"]["details"]

    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w") as archive:
        archive.writestr("../../evil.json", "[]")
    assert refused(raw.getvalue())["reason"] == "unsafe_path"
    assert refused(b"not a zip")["reason"] == "not_parse"
    mixed = {"Thing.json": [{"objectId": "a", "n": 1}, {"objectId": "b", "n": "one"}]}
    assert refused(as_zip(mixed))["reason"] == "invalid_schema"
    dangling = {"Thing.json": [{"objectId": "a", "p": {"__type": "Pointer", "className": "Gone", "objectId": "x"}}]}
    assert refused(as_zip(dangling))["reason"] == "invalid_schema"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as archive:
        link = tarfile.TarInfo("Thing.json")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        archive.addfile(link)
    assert refused(raw.getvalue())["reason"] == "unsafe_entry"
    assert not EndUser.objects.filter(project=keys.project).exists()


def test_parse_installations_become_devices_and_auth_data_becomes_linked_sign_ins(make_project):
    from basalt.identity.models import LinkedIdentity

    ios_token, fcm_token = "ab" * 32, "fcm-token:" + "x" * 30
    files = parse_export()
    files["_User.json"]["results"] += [  # type: ignore[index]
        {
            "objectId": "CarolZ3",
            "username": "carol",
            "email": "carol@example.com",
            "authData": {
                "google": {"id": "109876543210", "access_token": "ya29.secret"},
                "apple": {"id": "001234.abcdef.0987", "token": "eyJ.secret"},
                "facebook": {"id": "5555", "access_token": "EAA.secret"},
                "twitter": None,
            },
            "createdAt": "2024-01-05T00:00:00.000Z",
            "updatedAt": "2024-01-05T00:00:00.000Z",
        },
        {
            "objectId": "Anon44",
            "username": "x8Yf3",
            "authData": {"anonymous": {"id": "4f0c-uuid"}},
            "createdAt": "2024-01-06T00:00:00.000Z",
            "updatedAt": "2024-01-06T00:00:00.000Z",
        },
    ]
    files["_Installation.json"] = {"results": [
        {"objectId": "i1", "deviceType": "ios", "deviceToken": ios_token, "channels": ["", "news", "news"],
         "badge": 3, "timeZone": "Europe/Paris", "localeIdentifier": "fr-FR", "appVersion": "2.1",
         "user": {"__type": "Pointer", "className": "_User", "objectId": "AdaX1"},
         "installationId": "9b2b-ada", "favoriteTeam": "Giants", "appBuild": 41, "subscribedToNews": True,
         "lastSeen": {"__type": "Date", "iso": "2024-03-05T10:00:00Z"},
         "friend": {"__type": "Pointer", "className": "_User", "objectId": "CarolZ3"},
         "prefs": {"sound": "bell"}, "where": {"__type": "GeoPoint", "latitude": 1, "longitude": 2},
         "avatar": {"__type": "File", "name": "0123456789abcdef_me.png", "url": "https://old/me.png"},
         "Bad-Key": 1, "platform": "reserved", "_rperm": ["*"],
         "createdAt": "2024-03-01T00:00:00.000Z", "updatedAt": "2024-03-05T00:00:00.000Z"},
        {"objectId": "i0", "deviceType": "ios", "deviceToken": ios_token, "channels": ["old"],
         "createdAt": "2024-02-01T00:00:00.000Z", "updatedAt": "2024-02-01T00:00:00.000Z"},
        {"objectId": "i2", "deviceType": "android", "pushType": "gcm", "deviceToken": fcm_token,
         "timeZone": "Not/AZone", "createdAt": "2024-03-02T00:00:00.000Z", "updatedAt": "2024-03-02T00:00:00.000Z"},
        {"objectId": "i3", "deviceType": "winrt", "deviceToken": "whatever-token-1234567890",
         "createdAt": "2024-03-03T00:00:00.000Z"},
        {"objectId": "i4", "deviceType": "ios", "deviceToken": "not hex", "createdAt": "2024-03-03T00:00:00.000Z"},
    ]}  # fmt: skip
    keys = make_project("From Parse with devices")
    console, status = _import_parse(keys, files)
    assert status["status"] == "succeeded", status["error"]
    progress = status["progress"]
    assert progress["skipped"] == []
    assert progress["installations"] == {
        "imported": 2,
        "left_out": {"device_type": 1, "token": 1, "same_token": 1},
        "fields_left_out": {"Bad-Key": 1, "platform": 1, "avatar": 1},
    }
    assert progress["linked_sign_ins"] == {"google": 1, "apple": 1}
    assert progress["sign_ins_not_linked"] == {"facebook": 1}

    ada = key_client(keys.publishable, sign_in(keys.publishable, "ada@example.com", "ada's parse password"))
    ada_id = ada.get("/api/v1/auth/me").json()["id"]
    devices = key_client(keys.secret).get("/api/v1/collections/installations/documents", {"order": "created_at"})
    found = {d["token"]: d for d in devices.json()["results"]}
    assert set(found) == {ios_token, fcm_token}
    phone = found[ios_token]
    assert (phone["platform"], phone["provider"], phone["channels"], phone["badge"]) == ("ios", "apns", ["news"], 3)
    assert (phone["timezone"], phone["locale"], phone["app_version"], phone["user"]) == (
        "Europe/Paris", "fr-FR", "2.1", ada_id,
    )  # fmt: skip
    carol_id = EndUser.objects.get(project=keys.project, email="carol@example.com").id
    assert phone["custom"] == {
        "installation_id": "9b2b-ada", "favorite_team": "Giants", "app_build": 41, "subscribed_to_news": True,
        "last_seen": {"__type": "Date", "iso": "2024-03-05T10:00:00.000Z"},
        "friend": {"__type": "Pointer", "collection": "users", "id": carol_id}, "prefs": {"sound": "bell"},
        "where": {"__type": "GeoPoint", "lat": 1.0, "lng": 2.0},
    }  # fmt: skip
    # A push audience can target them, and the Parse face reads them back as the app wrote them.
    from basalt.push.audience import count_by_provider, select
    from tests.parse.conftest import ParseClient

    giants = select(keys.project, {"where": {"custom.favorite_team": "Giants"}}, ["apns", "fcm"])
    assert count_by_provider(giants) == {"apns": 1}
    parse = ParseClient(keys.project.ref, master_key=keys.secret)
    (row,) = parse.get("installations", {"where": {"favoriteTeam": "Giants"}}).json()["results"]
    assert (row["installationId"], row["appBuild"], row["lastSeen"]["iso"]) == (
        "9b2b-ada",
        41,
        "2024-03-05T10:00:00.000Z",
    )
    assert row["friend"] == {"__type": "Pointer", "className": "_User", "objectId": carol_id}
    android = found[fcm_token]
    assert (android["platform"], android["provider"], android["active"]) == ("android", "fcm", True)
    assert "timezone" not in android and "user" not in android and "custom" not in android

    carol = EndUser.objects.get(project=keys.project, email="carol@example.com")
    links = {(i.provider, i.subject) for i in LinkedIdentity.objects.filter(user=carol)}
    assert links == {("google", "109876543210"), ("apple", "001234.abcdef.0987")}
    assert not any("secret" in str(i.profile) for i in LinkedIdentity.objects.filter(project=keys.project))
    assert EndUser.objects.get(project=keys.project, username="x8Yf3").is_anonymous
    assert not carol.is_anonymous


def test_parse_sessions_keep_the_apps_users_signed_in_through_the_parse_face(make_project):
    from basalt.parse.models import ParseSessionToken

    live, old = "r:" + "a1" * 16, "r:" + "b2" * 16
    files = parse_export()

    def user(object_id: str) -> dict:
        return {"__type": "Pointer", "className": "_User", "objectId": object_id}

    files["_Session.json"] = {"results": [
        {"objectId": "s1", "sessionToken": live, "user": user("AdaX1"),
         "expiresAt": {"__type": "Date", "iso": "2099-01-01T00:00:00.000Z"}, "createdAt": "2024-05-01T00:00:00.000Z"},
        {"objectId": "s2", "sessionToken": old, "user": user("BobY2"),
         "expiresAt": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}},
        {"objectId": "s3", "sessionToken": "r:" + "c3" * 16, "user": user("Nobody")},
        {"objectId": "s4", "sessionToken": "not-a-parse-token", "user": user("AdaX1")},
    ]}  # fmt: skip
    keys = make_project("From Parse, signed in")
    console, status = _import_parse(keys, files)
    assert status["status"] == "succeeded", status["error"]
    assert status["progress"]["sessions"] == {"imported": 1, "left_out": {"expired": 1, "user": 1, "token": 1}}
    from basalt.identity.tokens import hash_token

    kept = list(ParseSessionToken.objects.filter(session__project=keys.project).values_list("token_hash", flat=True))
    assert kept == [hash_token(live)]  # the token itself is stored nowhere

    headers = {"HTTP_X_PARSE_APPLICATION_ID": keys.project.ref, "HTTP_X_PARSE_REST_API_KEY": keys.publishable}
    me = Client().get("/parse/users/me", **headers, HTTP_X_PARSE_SESSION_TOKEN=live)
    assert me.status_code == 200, me.content
    assert me.json()["username"] == "ada" and me.json()["sessionToken"] == live
    assert Client().get("/parse/users/me", **headers, HTTP_X_PARSE_SESSION_TOKEN=old).status_code != 200
    # An imported session ends like any other: logging out through the Parse face.
    assert Client().post("/parse/logout", "{}", content_type="application/json", **headers,
                         HTTP_X_PARSE_SESSION_TOKEN=live).status_code == 200  # fmt: skip
    assert Client().get("/parse/users/me", **headers, HTTP_X_PARSE_SESSION_TOKEN=live).status_code != 200


def _import_parse(keys, files):
    """Import a Parse export (class → rows) into the project; the owner's client and the job's status."""
    console = console_client_for(keys.owner)
    answer = console.generic(
        "POST", f"/api/v1/manage/projects/{keys.project.ref}/imports?from=parse", as_zip(files),
        content_type="application/zip",
    )  # fmt: skip
    return console, console.get(answer.json()["url"]).json()

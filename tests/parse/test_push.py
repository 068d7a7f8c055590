"""Parse installations and push (channels and where) through Basalt's push area."""

from __future__ import annotations

import json

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
    # A browser app's SDK reads it too: the CORS answer exposes it (it replaces the view's list).
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"cors_origins": ["https://app.example"]})
    browser = master.http.post(
        "/parse/push",
        json.dumps({"channels": ["nobody"], "data": {"alert": "x"}}),
        content_type="application/json",
        HTTP_ORIGIN="https://app.example",
        **master.headers,
    )
    assert browser.status_code == 200, browser.content
    exposed = [name.strip().lower() for name in browser["Access-Control-Expose-Headers"].split(",")]
    assert "x-parse-push-status-id" in exposed
    assert sorted(call[0] for call in twins["fcm"].sent) == ["a" * 30, "b" * 30]
    before = len(twins["fcm"].sent)
    sent = master.post("push", {"where": {"appVersion": "2.0"}, "data": {"alert": "v2 only"}})
    assert sent.status_code == 200, sent.content
    tokens = [call[0] for call in twins["fcm"].sent[before:]]
    assert tokens == ["a" * 30]


def _pointer(class_name: str, object_id: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def test_custom_installation_fields_round_trip_update_and_target_pushes(project, rest, master, signed_up, twins):  # noqa: F811
    alice = signed_up("alice")
    seen = {"__type": "Date", "iso": "2026-12-06T10:00:00.000Z"}
    first = alice.post(
        "installations",
        {
            "deviceType": "android",
            "deviceToken": "c" * 30,
            "installationId": "inst-1",
            "favoriteTeam": "Giants",
            "appBuild": 41,
            "subscribedToNews": True,
            "lastSeen": seen,
            "team": _pointer("Team", "t1"),
            "prefs": {"sound": "bell", "since": seen},
            "user": _pointer("_User", alice.user_id),
        },
    )
    assert first.status_code == 201, first.content
    object_id = first.json()["objectId"]
    got = alice.get(f"installations/{object_id}").json()
    assert got["favoriteTeam"] == "Giants" and got["appBuild"] == 41 and got["subscribedToNews"] is True
    assert got["lastSeen"] == seen and got["team"] == _pointer("Team", "t1") and got["installationId"] == "inst-1"
    assert got["prefs"] == {"sound": "bell", "since": seen} and got["user"] == _pointer("_User", alice.user_id)
    # The same fields read natively, under Basalt names.
    from tests.push.conftest import key_client

    native = key_client(project.secret).get(f"/api/v1/installations/{object_id}").json()
    assert native["custom"]["favorite_team"] == "Giants"
    assert native["custom"]["team"] == {"__type": "Pointer", "collection": "team", "id": "t1"}
    # Set, Increment (the answer carries the result), Delete, AddUnique.
    changed = alice.put(
        f"installations/{object_id}",
        {
            "appBuild": {"__op": "Increment", "amount": 2},
            "subscribedToNews": {"__op": "Delete"},
            "favoriteTeam": "Jets",
            "tags": {"__op": "AddUnique", "objects": ["a", "a", "b"]},
        },
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["appBuild"] == 43 and changed.json()["tags"] == ["a", "b"]
    got = alice.get(f"classes/_Installation/{object_id}").json()
    assert got["appBuild"] == 43 and "subscribedToNews" not in got and got["favoriteTeam"] == "Jets"

    other = rest.post(
        "installations",
        {
            "deviceType": "android",
            "deviceToken": "d" * 30,
            "favoriteTeam": "Giants",
            "lastSeen": {"__type": "Date", "iso": "2026-01-01T00:00:00Z"},
        },
    )
    assert other.status_code == 201, other.content
    rest.post("installations", {"deviceType": "android", "deviceToken": "e" * 30})

    def found(where) -> set[str]:
        answer = master.get("installations", {"where": where})
        assert answer.status_code == 200, answer.content
        return {row["deviceToken"] for row in answer.json()["results"]}

    assert found({"favoriteTeam": "Giants"}) == {"d" * 30}
    assert found({"favoriteTeam": {"$in": ["Jets", "Mets"]}}) == {"c" * 30}
    assert found({"favoriteTeam": {"$ne": "Jets"}}) == {"d" * 30, "e" * 30}
    assert found({"favoriteTeam": {"$exists": True}}) == {"c" * 30, "d" * 30}
    assert found({"tags": "b"}) == {"c" * 30}
    assert found({"lastSeen": {"$gt": {"__type": "Date", "iso": "2026-06-01T00:00:00.000Z"}}}) == {"c" * 30}
    assert found({"team": _pointer("Team", "t1")}) == {"c" * 30}
    assert found({"installationId": "inst-1"}) == {"c" * 30}
    assert found({"user": _pointer("_User", alice.user_id)}) == {"c" * 30}
    in_query = {"user": {"$inQuery": {"className": "_User", "where": {"username": "alice"}}}}
    assert found(in_query) == {"c" * 30}

    # Pushes to a where over custom fields reach exactly the matching devices.
    before = len(twins["fcm"].sent)
    sent = master.post("push", {"where": {"favoriteTeam": "Giants"}, "data": {"alert": "Giants win"}})
    assert sent.status_code == 200, sent.content
    assert [call[0] for call in twins["fcm"].sent[before:]] == ["d" * 30]
    before = len(twins["fcm"].sent)
    sent = master.post("push", {"where": in_query, "data": {"alert": "for alice"}})
    assert sent.status_code == 200, sent.content
    assert [call[0] for call in twins["fcm"].sent[before:]] == ["c" * 30]


def test_installation_user_is_the_caller_unless_the_master_key_says_otherwise(project, rest, master, signed_up):
    alice = signed_up("alice")
    bob = signed_up("bob")
    mine = alice.post("installations", {"deviceType": "android", "deviceToken": "f" * 30})
    object_id = mine.json()["objectId"]
    forged = alice.put(f"installations/{object_id}", {"user": _pointer("_User", bob.user_id)})
    assert forged.status_code == 400 and forged.json()["code"] == 111, forged.content
    stolen = alice.post(
        "installations", {"deviceType": "android", "deviceToken": "g" * 30, "user": _pointer("_User", bob.user_id)}
    )
    assert stolen.status_code == 400 and stolen.json()["code"] == 111
    assert alice.get(f"installations/{object_id}").json()["user"]["objectId"] == alice.user_id
    moved = master.put(f"installations/{object_id}", {"user": _pointer("_User", bob.user_id)})
    assert moved.status_code == 200, moved.content
    assert bob.get(f"installations/{object_id}").json()["user"]["objectId"] == bob.user_id
    assert alice.get(f"installations/{object_id}").status_code == 404
    assert master.put(f"installations/{object_id}", {"user": "bob"}).json()["code"] == 111


def _point(latitude: float, longitude: float) -> dict:
    return {"__type": "GeoPoint", "latitude": latitude, "longitude": longitude}


def test_installation_geopoint_file_bytes_and_dotted_keys_as_parse_server(project, rest, master):
    """An app's GeoPoint, File and Bytes values on its _Installation read back in Parse's encodings
    (and natively in Basalt's); dotted keys set, operate on (answered nested) and delete inside an
    object field."""
    uploaded = master.http.post(
        "/parse/files/me.png", b"\x89PNG\r\n\x1a\n0000", content_type="image/png", **master.headers
    )
    assert uploaded.status_code == 201, uploaded.content
    file = {"__type": "File", **uploaded.json()}
    created = rest.post(
        "installations",
        {
            "deviceType": "ios",
            "deviceToken": "c" * 64,
            "installationId": "5f2b1c3d-geo",
            "location": _point(48.85, 2.35),
            "avatar": file,
            "blob": {"__type": "Bytes", "base64": "aGVsbG8="},
            "prefs": {"sound": "bell", "volume": 3},
        },
    )
    assert created.status_code == 201, created.content
    object_id = created.json()["objectId"]
    got = master.get(f"installations/{object_id}").json()
    assert got["location"] == _point(48.85, 2.35)
    assert got["avatar"] == {"__type": "File", "name": file["name"], "url": file["url"]}
    assert got["blob"] == {"__type": "Bytes", "base64": "aGVsbG8="}
    native = master.http.get(f"/api/v1/installations/{object_id}", HTTP_X_API_KEY=project.secret).json()["custom"]
    assert native["location"] == {"__type": "GeoPoint", "lat": 48.85, "lng": 2.35}
    assert native["avatar"] == {"__type": "File", "id": file["name"].split("_", 1)[0], "name": "me.png"}
    changed = master.put(
        f"installations/{object_id}",
        {
            "prefs.sound": "chime",
            "prefs.volume": {"__op": "Increment", "amount": 2},
            "stats.launches": {"__op": "Increment"},
            "prefs.tags": {"__op": "AddUnique", "objects": ["a", "a", "b"]},
            "location": {"__op": "Delete"},
            "home": _point(-33.9, 151.2),
        },
    )
    assert changed.status_code == 200, changed.content
    answer = changed.json()
    assert answer["prefs"] == {"volume": 5, "tags": ["a", "b"]} and answer["stats"] == {"launches": 1}
    got = master.get(f"installations/{object_id}").json()
    assert got["prefs"] == {"sound": "chime", "volume": 5, "tags": ["a", "b"]} and got["stats"] == {"launches": 1}
    assert "location" not in got and got["home"] == _point(-33.9, 151.2)
    assert master.put(f"installations/{object_id}", {"prefs.tags": {"__op": "Delete"}}).status_code == 200
    assert master.get(f"installations/{object_id}").json()["prefs"] == {"sound": "chime", "volume": 5}
    # Written natively, read through the face: the same values in Parse's encodings.
    secret = {"HTTP_X_API_KEY": project.secret}
    patched = master.http.patch(
        f"/api/v1/installations/{object_id}",
        json.dumps({"custom": {"home": {"__type": "GeoPoint", "lat": 1.5, "lng": -2}}}),
        content_type="application/json",
        **secret,
    )
    assert patched.status_code == 200, patched.content
    assert master.get(f"installations/{object_id}").json()["home"] == _point(1.5, -2.0)


def test_hostile_custom_installation_fields_get_parse_codes_and_write_nothing(project, rest, master):
    created = rest.post("installations", {"deviceType": "android", "deviceToken": "h" * 30, "kept": 1})
    object_id = created.json()["objectId"]
    cases = [
        ({"bad-name": 1}, 105),
        ({"_private": 1}, 105),
        ({"platform": "x"}, 105),
        ({"active": False}, 105),
        ({"spot": {"__type": "GeoPoint", "latitude": 95, "longitude": 2}}, 111),
        ({"spot": {"__type": "GeoPoint", "latitude": "1", "longitude": 2}}, 111),
        ({"spot": {"__type": "GeoPoint"}}, 111),
        ({"a": {"__type": "GeoPoint", "latitude": 1, "longitude": 2}, "b": _point(3, 4)}, 111),
        ({"blob": {"__type": "Bytes", "base64": "%%%"}}, 111),
        ({"blob": {"__type": "Bytes", "base64": "A" * 9000}}, 116),
        ({"pic": {"__type": "File", "name": "nounderscore"}}, 111),
        ({"pic": {"__type": "File", "name": "nosuchfile_pic.png", "url": "http://x"}}, 111),
        ({"pic": {"__type": "File"}}, 111),
        ({"shape": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]}}, 111),
        ({"kept.inner": 1}, 111),  # "kept" holds a number, not an object
        ({"prefs.$where": 1}, 105),
        ({"prefs..x": 1}, 105),
        ({"prefs.": 1}, 105),
        ({"channels.0": "x"}, 105),
        ({"a.b.c.d.e.f.g": 1}, 111),
        ({"deep.a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}, 111),
        ({f"prefs.k{i}": {"__op": "Delete"} for i in range(300)}, 116),
        ({"when": {"__type": "Date", "iso": "soon"}}, 111),
        ({"big": "x" * 9000}, 116),
        ({f"k{i}": i for i in range(70)}, 116),
        ({"n": {"__op": "Explode"}}, 107),
        ({"kept": {"__op": "Increment", "amount": "2"}}, 111),
        ({"obj": {"a.b": 1}}, 111),
    ]
    for body, code in cases:
        answer = master.put(f"installations/{object_id}", {"channels": ["changed"], **body})
        assert answer.status_code == 400 and answer.json()["code"] == code, (body, answer.content)
    got = master.get(f"installations/{object_id}").json()
    assert got["kept"] == 1 and got["channels"] == []
    for where, code in [({"bad-name": 1}, 105), ({"x": {"$nearSphere": 1}}, 102), ({"x": {"__type": "Bytes"}}, 102)]:
        assert master.get("installations", {"where": where}).json()["code"] == code, where


def _as_device(client, installation_id: str | None):
    """The client sending the device's installationId (X-Parse-Installation-Id), as every SDK does."""
    other = client.as_user(client.token)
    other.headers.pop("HTTP_X_PARSE_INSTALLATION_ID", None)
    if installation_id:
        other.headers["HTTP_X_PARSE_INSTALLATION_ID"] = installation_id
    return other


def test_an_installation_saved_signed_out_is_claimed_after_login_and_by_no_one_else(project, rest, master, signed_up):
    """Parse's flow: save the installation at launch signed out, then after logIn
    `installation.set('user', currentUser); installation.save()`, a PUT naming the user."""
    alice = signed_up("alice")
    bob = signed_up("bob")
    launch = _as_device(rest, "iid-alice-phone")
    created = launch.post(
        "installations", {"deviceType": "android", "deviceToken": "k" * 30, "installationId": "iid-alice-phone"}
    )
    assert created.status_code == 201, created.content
    path = f"installations/{created.json()['objectId']}"
    # Signed out the device still saves (and reads) its own installation, without a user.
    assert launch.put(path, {"channels": ["news"]}).status_code == 200
    assert launch.get(path).json()["channels"] == ["news"]
    # Hostile: naming someone else (signed out or in) is 111 and writes nothing.
    assert launch.put(path, {"user": _pointer("_User", alice.user_id)}).json()["code"] == 111
    forged = _as_device(alice, "iid-alice-phone").put(path, {"user": _pointer("_User", bob.user_id), "badge": 5})
    assert forged.status_code == 400 and forged.json()["code"] == 111
    # Without the device's installationId, or with another one, the device is not found.
    for device in (None, "iid-elsewhere"):
        answer = _as_device(alice, device).put(path, {"user": _pointer("_User", alice.user_id)})
        assert answer.status_code == 404 and answer.json()["code"] == 101, device
    claimed = _as_device(alice, "iid-alice-phone").put(path, {"user": _pointer("_User", alice.user_id)})
    assert claimed.status_code == 200, claimed.content
    got = master.get(path).json()
    assert got["user"] == _pointer("_User", alice.user_id) and got["channels"] == ["news"] and got.get("badge") == 0
    assert [row["objectId"] for row in alice.get("installations").json()["results"]] == [created.json()["objectId"]]
    # Owned by alice: bob, even on that device, gets what a missing object gets (no enumeration).
    missing = _as_device(bob, "iid-alice-phone").put("installations/" + "z" * 20, {"user": None})
    for caller in (_as_device(bob, "iid-alice-phone"), launch):
        for body in ({"user": _pointer("_User", bob.user_id)}, {"channels": []}):
            taken = caller.put(path, body)
            assert taken.status_code == 404 and taken.json() == missing.json(), (body, taken.content)
        assert caller.get(path).json()["code"] == 101
    assert master.get(path).json()["user"]["objectId"] == alice.user_id


def test_installation_where_keeps_every_set_operator_on_one_key(project, rest, master, signed_up):
    """`$inQuery` plus `$in` on `user` and on an app-defined pointer: both hold (intersection)."""
    users = {name: signed_up(name) for name in ("ann", "ben", "cat")}
    for n, (name, client) in enumerate(users.items()):
        created = client.post(
            "installations",
            {"deviceType": "android", "deviceToken": f"{name}-" + "t" * 30, "owner": _pointer("_User", client.user_id)},
        )
        assert created.status_code == 201, created.content

    def found(where) -> list[str]:
        answer = master.get("installations", {"where": where})
        assert answer.status_code == 200, answer.content
        return sorted(row["deviceToken"].split("-")[0] for row in answer.json()["results"])

    ann_or_ben = {"className": "_User", "where": {"username": {"$in": ["ann", "ben"]}}}
    ben_or_cat = [_pointer("_User", users[name].user_id) for name in ("ben", "cat")]
    for key in ("user", "owner"):
        assert found({key: {"$inQuery": ann_or_ben, "$in": ben_or_cat}}) == ["ben"], key
        assert found({key: {"$in": ben_or_cat, "$inQuery": ann_or_ben}}) == ["ben"], key
        assert found({key: {"$notInQuery": ann_or_ben, "$nin": ben_or_cat}}) == [], key


def test_channel_operations_as_parse_sdks_send_them(project, rest, master):
    """`installation.addUnique("channels", "news")`, the documented way a Parse app subscribes."""
    created = rest.post(
        "installations",
        {"deviceType": "android", "deviceToken": "s" * 30, "channels": {"__op": "AddUnique", "objects": ["news"]}},
    )
    assert created.status_code == 201, created.content
    path = f"installations/{created.json()['objectId']}"
    assert master.get(path).json()["channels"] == ["news"]
    added = master.put(path, {"channels": {"__op": "AddUnique", "objects": ["sport", "news"]}})
    assert added.status_code == 200 and added.json()["channels"] == ["news", "sport"], added.content
    removed = master.put(path, {"channels": {"__op": "Remove", "objects": ["news"]}})
    assert removed.json()["channels"] == ["sport"]
    assert master.put(path, {"channels": {"__op": "Add", "objects": ["tech"]}}).json()["channels"] == ["sport", "tech"]
    for body, code in [
        ({"__op": "Increment", "amount": 1}, 107),
        ({"__op": ["AddUnique"], "objects": ["x"]}, 107),
        ({"__op": {"a": 1}, "objects": ["x"]}, 107),
        ({"__op": "AddUnique", "objects": [["x"]]}, 111),
        ({"__op": "AddUnique", "objects": "news"}, 107),
        ({"__op": "AddUnique", "objects": ["bad name"]}, 111),
    ]:
        answer = master.put(path, {"channels": body})
        assert answer.status_code == 400 and answer.json()["code"] == code, (body, answer.content)
    assert master.get(path).json()["channels"] == ["sport", "tech"]

"""App-defined installation fields (`custom`): written, merged and operated on through
/api/v1/installations, refused whole when hostile, and used by push audiences."""

from __future__ import annotations

import json

import pytest

from tests.files.conftest import upload
from tests.push.conftest import key_client, register

pytestmark = pytest.mark.django_db(transaction=True)

WHEN = {"__type": "Date", "iso": "2026-12-06T10:00:00+01:00"}


def _path(installation: dict) -> str:
    return f"/api/v1/installations/{installation['id']}"


def test_custom_fields_are_stored_merged_and_operated_on(project, signup, fcm_token):
    user_id, user = signup()
    created = register(
        user,
        "fcm",
        fcm_token(),
        custom={
            "favorite_team": "Giants",
            "app_build": 41,
            "subscribed_to_news": True,
            "tags": ["a"],
            "prefs": {"sound": "bell", "Quiet-Hours": [22, 7]},
            "last_seen": WHEN,
            "team": {"__type": "Pointer", "collection": "teams", "id": "t1"},
        },
    )
    assert created["custom"]["last_seen"] == {"__type": "Date", "iso": "2026-12-06T09:00:00.000Z"}
    assert created["custom"]["prefs"] == {"sound": "bell", "Quiet-Hours": [22, 7]}
    changed = user.patch(
        _path(created),
        {
            "custom": {
                "app_build": {"__op": "increment", "by": 2},
                "visits": {"__op": "increment"},
                "tags": {"__op": "add_unique", "items": ["a", "b"]},
                "subscribed_to_news": {"__op": "unset"},
                "prefs": None,
            }
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    fields = changed.json()["custom"]
    assert fields["app_build"] == 43 and fields["visits"] == 1 and fields["tags"] == ["a", "b"]
    assert "subscribed_to_news" not in fields and "prefs" not in fields and fields["favorite_team"] == "Giants"
    # Re-registering the token merges, keeping what it does not name.
    again = register(user, "fcm", created["token"], custom={"favorite_team": "Jets"})
    assert again["id"] == created["id"] and again["custom"]["favorite_team"] == "Jets"
    assert again["custom"]["app_build"] == 43
    secret = key_client(project.secret)
    listed = secret.get("/api/v1/installations", {"where": json.dumps({"custom.favorite_team": "Jets"})}).json()
    assert [i["id"] for i in listed["results"]] == [created["id"]]
    later = {"custom.last_seen.iso": {"$gt": "2026-12-06T08:00:00.000Z"}}
    assert len(secret.get("/api/v1/installations", {"where": json.dumps(later)}).json()["results"]) == 1
    # Removing every custom field leaves none.
    cleared = user.patch(_path(created), {"custom": {k: None for k in again["custom"]}}, format="json").json()
    assert "custom" not in cleared and cleared["user"] == user_id


@pytest.mark.parametrize(
    ("custom", "field"),
    [
        ({"Bad": 1}, "custom.Bad"),
        ({"1st": 1}, "custom.1st"),
        ({"token": "x"}, "custom.token"),
        ({"user": "x"}, "custom.user"),
        ({"device_type": "x"}, "custom.device_type"),
        ({f"k{i}": i for i in range(65)}, "custom"),
        ({"big": "x" * 9000}, "custom"),
        ({"deep": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "custom.deep.a.b.c.d.e.f"),
        ({"when": {"__type": "Date", "iso": "yesterday"}}, "custom.when"),
        ({"when": {"__type": "Date", "iso": "2026-12-06T10:00:00"}}, "custom.when"),
        # Well formed but no such day: was a 500 (Django's parse_datetime raises on it).
        ({"when": {"__type": "Date", "iso": "2026-13-06T10:00:00Z"}}, "custom.when"),
        ({"when": {"__type": "Date", "iso": "2026-02-30T10:00:00+01:00"}}, "custom.when"),
        ({"team": {"__type": "Pointer", "collection": "Teams", "id": "x"}}, "custom.team"),
        ({"blob": {"__type": "Bytes", "base64": "not base64!"}}, "custom.blob"),
        ({"blob": {"__type": "Bytes", "base64": 12}}, "custom.blob"),
        ({"spot": {"__type": "GeoPoint", "lat": 91, "lng": 0}}, "custom.spot"),
        ({"spot": {"__type": "GeoPoint", "lat": 1, "lng": 2, "alt": 3}}, "custom.spot"),
        ({"spot": {"__type": "GeoPoint", "lat": "48.85", "lng": 2}}, "custom.spot"),
        (
            {"a": {"__type": "GeoPoint", "lat": 1, "lng": 2}, "b": {"__type": "GeoPoint", "lat": 1, "lng": 2}},
            "custom.b",
        ),
        ({"pic": {"__type": "File", "id": "no-such-file"}}, "custom.pic"),
        ({"pic": {"__type": "File", "id": "../x"}}, "custom.pic"),
        ({"shape": {"__type": "Polygon", "coordinates": []}}, "custom.shape"),
        ({"kept.inner": 1}, "custom.kept.inner"),  # "kept" holds a string, not an object
        ({"prefs.$where": 1}, "custom.prefs"),
        ({"prefs..x": 1}, "custom.prefs"),
        ({"a.b.c.d.e.f.g": 1}, "custom.a"),
        ({"Prefs.x": 1}, "custom.Prefs"),
        ({f"prefs.k{i}": i for i in range(300)}, "custom"),  # many dotted keys: bounded work, then refused
        ({"obj": {"$where": 1}}, "custom.obj"),
        ({"obj": {"a.b": 1}}, "custom.obj"),
        ({"n": {"__op": "increment", "by": "1"}}, "custom.n"),
        ({"n": {"__op": "explode"}}, "custom.n"),
        # Numbers as every stored number: JSON clients read doubles, so integers within ±2^53.
        ({"n": 2**53 + 1}, "custom.n"),
        ({"nested": {"n": [-(2**60)]}}, "custom.nested.n"),
        ({"n": {"__op": "increment", "by": 2**63}}, "custom.n"),
        # PostgreSQL cannot store U+0000 (a 400 without details there; SQLite stored it).
        ({"bio": "a\x00b"}, "custom.bio"),
        ({"nested": {"k": ["\x00"]}}, "custom.nested.k"),
    ],
)
def test_hostile_custom_fields_are_refused_and_nothing_is_written(project, signup, fcm_token, custom, field):
    _, user = signup()
    created = register(user, "fcm", fcm_token(), custom={"kept": "yes"})
    for response in (
        user.patch(_path(created), {"channels": ["changed"], "custom": custom}, format="json"),
        user.post(
            "/api/v1/installations",
            {"platform": "android", "provider": "fcm", "token": created["token"], "locale": "de", "custom": custom},
            format="json",
        ),
    ):
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "validation_failed" and field in error["details"], error
    after = user.get(_path(created)).json()
    assert after["custom"] == {"kept": "yes"} and after["channels"] == [] and "locale" not in after


def test_custom_must_be_an_object_and_increment_needs_a_number(project, signup, fcm_token):
    _, user = signup()
    created = register(user, "fcm", fcm_token(), custom={"team": "Giants"})
    assert user.patch(_path(created), {"custom": ["x"]}, format="json").status_code == 400
    bad = user.patch(_path(created), {"custom": {"team": {"__op": "increment"}}}, format="json")
    assert bad.status_code == 400 and "custom.team" in bad.json()["error"]["details"]


def test_an_increment_past_the_safe_range_and_json_equality_in_array_operations(project, signup, fcm_token):
    _, user = signup()
    created = register(user, "fcm", fcm_token(), custom={"n": 2**53 - 1, "flags": [True, 1]})
    over = user.patch(_path(created), {"custom": {"n": {"__op": "increment", "by": 2**53 - 1}}}, format="json")
    assert over.status_code == 400 and "custom.n" in over.json()["error"]["details"], over.content
    # true is not 1 in JSON: add_unique keeps both, remove takes only the one named.
    add = {"custom": {"flags": {"__op": "add_unique", "items": [1, False]}}}
    added = user.patch(_path(created), add, format="json")
    assert added.json()["custom"]["flags"] == [True, 1, False]
    removed = user.patch(_path(created), {"custom": {"flags": {"__op": "remove", "items": [1]}}}, format="json")
    assert removed.json()["custom"] == {"n": 2**53 - 1, "flags": [True, False]}
    # Also inside arrays and objects ([true] is not [1]): the nested items were compared with
    # Python's equality and the second one dropped.
    nested = {"custom": {"pairs": {"__op": "add_unique", "items": [[1], [True], {"on": 1}, {"on": True}]}}}
    added = user.patch(_path(created), nested, format="json")
    assert added.json()["custom"]["pairs"] == [[1], [True], {"on": 1}, {"on": True}], added.content
    gone = user.patch(_path(created), {"custom": {"pairs": {"__op": "remove", "items": [[True]]}}}, format="json")
    assert gone.json()["custom"]["pairs"] == [[1], {"on": 1}, {"on": True}]


def test_only_the_secret_key_attaches_a_device_to_another_user(project, signup, fcm_token):
    victim_id, victim = signup()
    attacker_id, attacker = signup()
    mine = register(attacker, "fcm", fcm_token())
    # A client may restate itself, never name someone else.
    assert attacker.patch(_path(mine), {"user": attacker_id}, format="json").status_code == 200
    refused = attacker.patch(_path(mine), {"user": victim_id}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "validation_failed"
    assert register(attacker, "fcm", fcm_token(), user=attacker_id)["user"] == attacker_id
    secret = key_client(project.secret)
    moved = secret.patch(_path(mine), {"user": victim_id}, format="json")
    assert moved.status_code == 200 and moved.json()["user"] == victim_id
    assert victim.get(_path(mine)).status_code == 200 and attacker.get(_path(mine)).status_code == 404
    assert secret.patch(_path(mine), {"user": "nobody-such-user-id"}, format="json").status_code == 400
    # The owner may unlink its own device: it then belongs to the device (whoever holds its id,
    # installations.device_proved), which may be claimed again, but for no one else.
    unlinked = victim.patch(_path(mine), {"user": None}, format="json")
    assert unlinked.status_code == 200 and "user" not in unlinked.json()
    assert "user" not in secret.get(_path(mine)).json()
    assert attacker.patch(_path(mine), {"user": victim_id}, format="json").status_code == 400


def test_push_audience_where_over_custom_fields_reaches_only_matching_devices(project, twins, signup, fcm_token):
    user_id, user = signup()
    device = key_client(project.publishable)
    giants = register(device, "fcm", "g" * 30, custom={"favorite_team": "Giants", "app_build": 7})
    register(device, "fcm", "j" * 30, custom={"favorite_team": "Jets", "app_build": 9, "beta": True})
    register(user, "fcm", "u" * 30, custom={"favorite_team": "Giants", "beta": False})
    register(device, "fcm", "n" * 30)
    secret = key_client(project.secret)

    def targeted(where) -> int:
        body = {"audience": {"where": where}, "notification": {"title": "x"}, "dry_run": True}
        answer = secret.post("/api/v1/push", body, format="json")
        assert answer.status_code == 200, answer.content
        return answer.json()["targeted"]

    assert targeted({"custom.favorite_team": "Giants"}) == 2
    assert targeted({"custom.favorite_team": {"$in": ["Jets", "Mets"]}}) == 1
    assert targeted({"custom.favorite_team": {"$ne": "Giants"}}) == 2  # Jets and the device without one
    assert targeted({"custom.beta": {"$exists": True}}) == 2
    assert targeted({"custom.app_build": {"$gte": 8}}) == 1
    assert targeted({"custom.favorite_team": "Giants", "user": user_id}) == 1
    hostile = {"audience": {"where": {"custom.x": {"$where": 1}}}, "notification": {"title": "x"}}
    bad = secret.post("/api/v1/push", hostile, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_query"

    where = {"custom.favorite_team": "Giants", "custom.app_build": 7}
    sent = secret.post("/api/v1/push", {"audience": {"where": where}, "notification": {"title": "G"}}, format="json")
    assert sent.status_code == 202, sent.content
    assert [call[0] for call in twins["fcm"].sent] == ["g" * 30]
    final = secret.get(f"/api/v1/push/{sent.json()['id']}").json()
    assert final["counts"]["targeted"] == 1 and final["counts"]["sent"] == 1
    assert giants["custom"]["favorite_team"] == "Giants"


def test_existing_installations_collections_gain_the_custom_field(project, fcm_token):
    from basalt.documents.models import Collection
    from basalt.push.builtin import installations_collection

    collection = installations_collection(project.project)
    fields = dict(collection.fields)
    fields.pop("custom")
    Collection.objects.filter(pk=collection.pk).update(fields=fields)
    again = installations_collection(project.project)
    assert again.fields["custom"]["type"] == "object"
    register(key_client(project.publishable), "fcm", fcm_token(), custom={"team": "x"})


def test_the_migration_declares_custom_on_existing_collections(project):
    import importlib

    from django.apps import apps

    from basalt.documents.models import Collection
    from basalt.projects.models import Project
    from basalt.push.builtin import installations_collection

    migration = importlib.import_module("basalt.push.migrations.0004_installation_custom_field")
    collection = installations_collection(project.project)
    fields = dict(collection.fields)
    fields.pop("custom")
    Collection.objects.filter(pk=collection.pk).update(fields=fields)
    version = Project.objects.get(pk=project.project.pk).schema_version
    migration.declare_custom(apps, None)
    assert Collection.objects.get(pk=collection.pk).fields["custom"] == {"type": "object", "builtin": True}
    assert Project.objects.get(pk=project.project.pk).schema_version == version + 1
    migration.declare_custom(apps, None)  # idempotent
    assert Project.objects.get(pk=project.project.pk).schema_version == version + 1


def test_geopoints_bytes_files_and_dotted_keys(project, signup, fcm_token):
    """GeoPoint, Bytes and File values are kept (a File with its file's name), and a dotted key
    sets, unsets and operates inside an object, making the missing objects on its way."""
    secret = key_client(project.secret)
    file_id = upload(secret, b"avatar bytes", name="me.png").json()["id"]
    _, user = signup()
    created = register(
        user,
        "fcm",
        fcm_token(),
        custom={
            "spot": {"__type": "GeoPoint", "lat": 48.85, "lng": 2.35},
            "blob": {"__type": "Bytes", "base64": "aGVsbG8="},
            "avatar": {"__type": "File", "id": file_id, "name": "a name the client made up"},
            "prefs": {"sound": "bell", "volume": 3},
            "kept": "yes",
        },
    )
    fields = created["custom"]
    assert fields["spot"] == {"__type": "GeoPoint", "lat": 48.85, "lng": 2.35}
    assert fields["blob"] == {"__type": "Bytes", "base64": "aGVsbG8="}
    assert fields["avatar"] == {"__type": "File", "id": file_id, "name": "me.png"}
    changed = user.patch(
        _path(created),
        {
            "custom": {
                "prefs.sound": "chime",
                "prefs.volume": {"__op": "increment", "by": 2},
                "prefs.quiet": None,
                "stats.launches.ios": {"__op": "increment"},
                "prefs.gone": {"__op": "unset"},
                "nothing.here": {"__op": "unset"},
                "spot": {"__op": "unset"},
                "home": {"__type": "GeoPoint", "lat": -33.9, "lng": 151.2},
            }
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    fields = changed.json()["custom"]
    assert fields["prefs"] == {"sound": "chime", "volume": 5, "quiet": None}
    assert fields["stats"] == {"launches": {"ios": 1}} and "nothing" not in fields and "spot" not in fields
    assert fields["home"] == {"__type": "GeoPoint", "lat": -33.9, "lng": 151.2}
    assert fields["avatar"]["name"] == "me.png" and fields["kept"] == "yes"
    unset = user.patch(_path(created), {"custom": {"prefs.quiet": {"__op": "unset"}}}, format="json")
    assert unset.json()["custom"]["prefs"] == {"sound": "chime", "volume": 5}


def test_a_file_only_an_installation_names_is_not_swept(project, signup, fcm_token):
    from datetime import timedelta

    from django.utils import timezone

    from basalt.files.models import File
    from basalt.files.tasks import sweep_orphans

    secret = key_client(project.secret)
    named, nested, orphan = (upload(secret, data).json()["id"] for data in (b"named", b"nested", b"orphan"))
    File.objects.filter(pk__in=[named, nested, orphan]).update(created_at=timezone.now() - timedelta(hours=25))
    _, user = signup()
    register(
        user,
        "fcm",
        fcm_token(),
        custom={"avatar": {"__type": "File", "id": named}, "album": {"pics": [{"__type": "File", "id": nested}]}},
    )
    assert sweep_orphans.delay().get() == 1
    assert set(File.objects.values_list("id", flat=True)) == {named, nested}

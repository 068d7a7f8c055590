"""Objects through /parse/classes with X-Parse-* headers: encodings, operations, errors."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_master_key_creates_class_and_object_with_parse_encodings(master):
    """A master-key write creates the class and its fields; reads use Parse's encodings."""
    created = master.post(
        "classes/GameScore",
        {
            "score": 1337,
            "playerName": "Sean Plott",
            "cheatMode": False,
            "when": {"__type": "Date", "iso": "2026-11-21T10:00:00.000Z"},
            "place": {"__type": "GeoPoint", "latitude": 48.85, "longitude": 2.35},
            "tags": ["a", "b"],
            "stats": {"wins": 1, "nested": {"x": 1}},
            "raw": {"__type": "Bytes", "base64": "aGVsbG8="},
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"objectId", "createdAt"}
    assert created["Location"].endswith(f"/parse/classes/GameScore/{body['objectId']}")
    got = master.get(f"classes/GameScore/{body['objectId']}").json()
    assert got["playerName"] == "Sean Plott"
    assert got["score"] == 1337 and got["cheatMode"] is False
    assert got["when"] == {"__type": "Date", "iso": "2026-11-21T10:00:00.000Z"}
    assert got["place"] == {"__type": "GeoPoint", "latitude": 48.85, "longitude": 2.35}
    assert got["raw"] == {"__type": "Bytes", "base64": "aGVsbG8="}
    assert got["objectId"] == body["objectId"] and got["createdAt"] == body["createdAt"]
    assert "updatedAt" in got and got["ACL"] == {"*": {"read": True, "write": True}}


def test_update_operations_return_results(master):
    """Increment/Add/AddUnique/Remove answer with their results; Delete unsets."""
    oid = master.post("classes/GameScore", {"score": 1, "tags": ["a"], "note": "x"}).json()["objectId"]
    response = master.put(
        f"classes/GameScore/{oid}",
        {
            "score": {"__op": "Increment", "amount": 5},
            "tags": {"__op": "AddUnique", "objects": ["a", "b"]},
            "note": {"__op": "Delete"},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["score"] == 6 and body["tags"] == ["a", "b"] and "updatedAt" in body
    assert "note" not in body
    got = master.get(f"classes/GameScore/{oid}").json()
    assert "note" not in got
    body = master.put(f"classes/GameScore/{oid}", {"tags": {"__op": "Remove", "objects": ["a"]}}).json()
    assert body["tags"] == ["b"]


def test_pointers_include_and_relations(master):
    """Pointers read as Pointer, include inlines the object, relations read as Relation."""
    player = master.post("classes/Player", {"name": "P1"}).json()["objectId"]
    score = master.post(
        "classes/GameScore",
        {"score": 3, "player": {"__type": "Pointer", "className": "Player", "objectId": player}},
    ).json()["objectId"]
    got = master.get(f"classes/GameScore/{score}").json()
    assert got["player"] == {"__type": "Pointer", "className": "Player", "objectId": player}
    found = master.get("classes/GameScore", {"include": "player"}).json()["results"][0]
    assert found["player"]["__type"] == "Object" and found["player"]["name"] == "P1"
    assert found["player"]["className"] == "Player" and found["player"]["objectId"] == player
    star = master.get("classes/GameScore", {"include": "*"}).json()["results"][0]
    assert star["player"]["name"] == "P1"
    master.put(
        f"classes/Player/{player}",
        {
            "fans": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "GameScore", "objectId": score}],
            }
        },
    )
    fans = master.get(
        "classes/GameScore",
        {
            "where": {
                "$relatedTo": {
                    "object": {"__type": "Pointer", "className": "Player", "objectId": player},
                    "key": "fans",
                }
            }
        },
    ).json()["results"]
    assert [f["objectId"] for f in fans] == [score]
    assert master.get(f"classes/Player/{player}").json()["fans"] == {"__type": "Relation", "className": "GameScore"}


def test_queries(master):
    """where operators, compound queries, order, skip/limit, keys, excludeKeys and count."""
    for i, name in enumerate(["ann", "bob", "cid", "dan", "eve"]):
        master.post("classes/Item", {"n": i, "name": name, "tags": ["even" if i % 2 == 0 else "odd"]})

    def names(params):
        response = master.get("classes/Item", params)
        assert response.status_code == 200, response.content
        return [r["name"] for r in response.json()["results"]]

    assert names({"where": {"n": {"$gte": 1, "$lt": 3}}, "order": "n"}) == ["bob", "cid"]
    assert names({"where": {"name": {"$in": ["ann", "eve"]}}, "order": "-n"}) == ["eve", "ann"]
    assert names({"where": {"tags": "odd"}, "order": "n"}) == ["bob", "dan"]
    assert names({"where": {"$or": [{"n": 0}, {"n": 4}]}, "order": "n"}) == ["ann", "eve"]
    assert names({"where": {"name": {"$regex": "^B", "$options": "i"}}}) == ["bob"]
    assert names({"order": "n", "skip": 1, "limit": 2}) == ["bob", "cid"]
    assert names({"where": {"$nor": [{"n": {"$lt": 4}}]}}) == ["eve"]
    counted = master.get("classes/Item", {"where": {"n": {"$gt": 1}}, "count": 1, "limit": 0}).json()
    assert counted == {"count": 3, "results": []}
    only = master.get("classes/Item", {"keys": "name", "limit": 1}).json()["results"][0]
    assert set(only) >= {"objectId", "name"} and "n" not in only
    without = master.get("classes/Item", {"excludeKeys": "tags", "limit": 1}).json()["results"][0]
    assert "tags" not in without and "n" in without
    assert names({"where": {"n": {"$exists": False}}}) == []
    assert master.get("classes/Nothing").json() == {"results": []}


def test_subqueries(master):
    """$inQuery/$notInQuery and $select/$dontSelect through sub-queries."""
    team = master.post("classes/Team", {"city": "Paris"}).json()["objectId"]
    other = master.post("classes/Team", {"city": "Lyon"}).json()["objectId"]
    for tid, who in ((team, "a"), (other, "b")):
        master.post("classes/Member", {"who": who, "team": {"__type": "Pointer", "className": "Team", "objectId": tid}})
        master.post("classes/Fan", {"city": "Paris" if who == "a" else "Nice", "who": who})
    inner = {"where": {"city": "Paris"}, "className": "Team"}
    found = master.get("classes/Member", {"where": {"team": {"$inQuery": inner}}}).json()["results"]
    assert [m["who"] for m in found] == ["a"]
    found = master.get("classes/Member", {"where": {"team": {"$notInQuery": inner}}}).json()["results"]
    assert [m["who"] for m in found] == ["b"]
    select = {"query": {"className": "Team", "where": {}}, "key": "city"}
    found = master.get("classes/Fan", {"where": {"city": {"$select": select}}}).json()["results"]
    assert [f["who"] for f in found] == ["a"]
    found = master.get("classes/Fan", {"where": {"city": {"$dontSelect": select}}}).json()["results"]
    assert [f["who"] for f in found] == ["b"]


def test_several_set_operators_on_one_key_all_hold(master):
    """`$inQuery` with `$in` (and `$select` with `$nin`, two `$notInQuery`) on one key: each
    constraint holds, as in Parse Server; the last one alone decided before."""
    teams = {city: master.post("classes/Team", {"city": city}).json()["objectId"] for city in ("Paris", "Lyon", "Nice")}
    for city, tid in teams.items():
        master.post(
            "classes/Member", {"who": city, "team": {"__type": "Pointer", "className": "Team", "objectId": tid}}
        )

    def who(where) -> list[str]:
        answer = master.get("classes/Member", {"where": where, "order": "who"})
        assert answer.status_code == 200, answer.content
        return [m["who"] for m in answer.json()["results"]]

    south = {"className": "Team", "where": {"city": {"$in": ["Lyon", "Nice"]}}}
    ptr = {"__type": "Pointer", "className": "Team", "objectId": teams["Paris"]}
    lyon = {"__type": "Pointer", "className": "Team", "objectId": teams["Lyon"]}
    assert who({"team": {"$inQuery": south, "$in": [ptr, lyon]}}) == ["Lyon"]
    assert who({"team": {"$in": [ptr, lyon], "$inQuery": south}}) == ["Lyon"]
    north = {"className": "Team", "where": {"city": "Paris"}}
    assert who({"team": {"$notInQuery": north, "$nin": [lyon]}}) == ["Nice"]
    select = {"query": {"className": "Team", "where": {"city": {"$ne": "Nice"}}}, "key": "city"}
    assert who({"who": {"$select": select, "$in": ["Nice", "Lyon"]}}) == ["Lyon"]


def test_errors_are_parse_shaped(master, rest):
    """Parse's codes and statuses; never a 5xx."""
    master.post("classes/Thing", {"n": 1})
    missing = master.get("classes/Thing/doesnotexist")
    assert missing.status_code == 404 and missing.json() == {"code": 101, "error": "Object not found."}
    bad_class = master.post("classes/9bad", {"n": 1})
    assert bad_class.status_code == 400 and bad_class.json()["code"] == 103
    bad_key = master.post("classes/Thing", {"$bad": 1})
    assert bad_key.status_code == 400 and bad_key.json()["code"] == 105
    wrong_type = master.post("classes/Thing", {"n": "text"})
    assert wrong_type.status_code == 400 and wrong_type.json()["code"] == 111
    bad_query = master.get("classes/Thing", {"where": {"n": {"$foo": 1}}})
    assert bad_query.status_code == 400 and bad_query.json()["code"] == 102
    bad_json = master.http.post("/parse/classes/Thing", b"{nope", content_type="application/json", **master.headers)
    assert bad_json.status_code == 400 and bad_json.json()["code"] == 107
    for path in ("functions/hello", "jobs/nightly"):
        response = master.post(path, {})
        assert response.status_code == 400 and response.json()["code"] == 141
    denied = rest.post("classes/NewClass", {"n": 1})
    assert denied.status_code == 400 and denied.json()["code"] == 119
    assert rest.as_user("r:nope").get("classes/Thing").json() == {"code": 209, "error": "Invalid session token"}


def test_credentials(project, rest):
    """Wrong app id or key → 403 unauthorized; the publishable key is not a master key."""
    from tests.parse.conftest import ParseClient

    assert ParseClient("nope", rest_key=project.publishable).get("classes/X").status_code == 403
    assert ParseClient(project.project.ref).get("classes/X").json() == {"error": "unauthorized"}
    assert ParseClient(project.project.ref, master_key=project.publishable).get("classes/X").status_code == 403
    assert ParseClient(project.project.ref, rest_key=project.secret).get("classes/X").status_code == 403
    assert rest.get("classes/X").status_code == 200


def test_javascript_sdk_body_form(project, master):
    """POST text/plain with _method and credentials in the body works like the header form."""
    import json

    from django.test import Client

    oid = master.post("classes/Note", {"text": "hi"}).json()["objectId"]
    body = {
        "_method": "GET",
        "_ApplicationId": project.project.ref,
        "_MasterKey": project.secret,
        "where": {"text": "hi"},
    }
    response = Client().post("/parse/classes/Note", json.dumps(body), content_type="text/plain")
    assert response.status_code == 200, response.content
    assert [r["objectId"] for r in response.json()["results"]] == [oid]
    body = {"_method": "PUT", "_ApplicationId": project.project.ref, "_MasterKey": project.secret, "text": "yo"}
    assert Client().post(f"/parse/classes/Note/{oid}", json.dumps(body), content_type="text/plain").status_code == 200
    assert master.get(f"classes/Note/{oid}").json()["text"] == "yo"


def test_batch(master):
    """/batch runs each request; errors are per request; transaction: true is all or nothing."""
    response = master.post(
        "batch",
        {
            "requests": [
                {"method": "POST", "path": "/parse/classes/B", "body": {"n": 1}},
                {"method": "POST", "path": "/parse/classes/B", "body": {"n": 2}},
                {"method": "GET", "path": "/parse/classes/B/missing"},
            ]
        },
    )
    assert response.status_code == 200, response.content
    results = response.json()
    assert "objectId" in results[0]["success"] and "objectId" in results[1]["success"]
    assert results[2] == {"error": {"code": 101, "error": "Object not found."}}
    failed = master.post(
        "batch",
        {
            "transaction": True,
            "requests": [
                {"method": "POST", "path": "/parse/classes/B", "body": {"n": 3}},
                {"method": "POST", "path": "/parse/classes/B", "body": {"n": "bad"}},
            ],
        },
    )
    assert failed.status_code == 400 and failed.json()["code"] == 111
    assert master.get("classes/B", {"where": {"n": 3}}).json()["results"] == []


def test_a_write_the_database_refuses_in_a_batch_is_that_sub_requests_error(project, master, monkeypatch):
    """A value the database refuses (past validation) failed the whole /batch with a 400 and nothing
    written. Now only its sub-request gets Parse's error entry, nothing of it is written (no object,
    no change-log row), and the other sub-requests succeed, as on Parse Server."""
    from basalt.documents.models import ChangeLogEntry
    from tests.documents.conftest import refuse_writes_titled

    assert master.post("classes/B", {"title": "first"}).status_code == 201
    refuse_writes_titled(monkeypatch, "refused")
    requests = [{"method": "POST", "path": "/parse/classes/B", "body": {"title": t}} for t in ("a", "refused", "b")]
    requests.append({"method": "GET", "path": "/parse/classes/B", "body": {"order": "title"}})
    response = master.post("batch", {"requests": requests})
    assert response.status_code == 200, response.content
    results = response.json()
    assert "objectId" in results[0]["success"] and "objectId" in results[2]["success"]
    assert results[1] == {"error": {"code": 111, "error": "A value cannot be stored (out of range or malformed)."}}
    assert [o["title"] for o in results[3]["success"]["results"]] == ["a", "b", "first"]
    assert [o["title"] for o in master.get("classes/B", {"order": "title"}).json()["results"]] == ["a", "b", "first"]
    logged = ChangeLogEntry.objects.filter(project=project.project, collection="b").values_list(
        "after__title", flat=True
    )
    assert sorted(logged) == ["a", "b", "first"]


def test_a_refusal_in_a_batch_that_creates_its_class_keeps_the_class(project, master, monkeypatch):
    """The refusal rolls the first pass back, class creation included: the second pass must not
    trust what the first pass cached of the project's schema, and creates the class again."""
    from tests.documents.conftest import refuse_writes_titled

    refuse_writes_titled(monkeypatch, "refused")
    requests = [{"method": "POST", "path": "/parse/classes/Fresh", "body": {"title": t}} for t in ("a", "refused", "b")]
    response = master.post("batch", {"requests": requests})
    assert response.status_code == 200, response.content
    assert ["success" in r for r in response.json()] == [True, False, True]
    assert [o["title"] for o in master.get("classes/Fresh", {"order": "title"}).json()["results"]] == ["a", "b"]


def test_a_key_first_sent_as_delete_still_creates_its_field_when_sent_a_value(master):
    """Schema-on-write remembers which key lists name only existing fields: a Delete of a field the
    class lacks creates none, and the same keys sent next with a value must still create it
    rather than pass as known."""
    oid = master.post("classes/Memo", {"a": 1}).json()["objectId"]
    master.put(f"classes/Memo/{oid}", {"a": 2, "b": {"__op": "Delete"}})
    assert "b" not in master.get("schemas/Memo").json()["fields"]
    for value in (3, 4):  # twice: the second is answered from what the first remembered
        written = master.put(f"classes/Memo/{oid}", {"a": 2, "b": value})
        assert written.status_code == 200, written.content
    assert master.get(f"classes/Memo/{oid}").json()["b"] == 4
    assert master.get("schemas/Memo").json()["fields"]["b"] == {"type": "Number"}


def test_both_faces_see_the_same_data(project, master):
    """Written through /parse/, read through /api/v1 (and back), types converted losslessly."""
    from rest_framework.test import APIClient

    oid = master.post(
        "classes/GameScore", {"playerName": "x", "when": {"__type": "Date", "iso": "2026-01-01T00:00:00.000Z"}}
    ).json()["objectId"]
    native = APIClient()
    native.credentials(HTTP_X_API_KEY=project.secret)
    doc = native.get(f"/api/v1/collections/game_score/documents/{oid}").json()
    assert doc["player_name"] == "x" and doc["when"] == "2026-01-01T00:00:00.000Z"
    native.patch(f"/api/v1/collections/game_score/documents/{oid}", {"player_name": "y"}, format="json")
    assert master.get(f"classes/GameScore/{oid}").json()["playerName"] == "y"


def test_nested_dotted_keys(project, master):
    """Set, unset, increment and add on dotted keys inside an object; results come back nested."""
    oid = master.post("classes/Stats", {"stats": {"wins": 1, "detail": {"x": 1}}}).json()["objectId"]
    response = master.put(
        f"classes/Stats/{oid}",
        {
            "stats.wins": {"__op": "Increment", "amount": 2},
            "stats.detail.y": "new",
            "stats.detail.x": {"__op": "Delete"},
            "stats.badges": {"__op": "AddUnique", "objects": ["gold", "gold"]},
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stats"] == {"wins": 3, "badges": ["gold"]}
    assert master.get(f"classes/Stats/{oid}").json()["stats"] == {"wins": 3, "detail": {"y": "new"}, "badges": ["gold"]}
    bad = master.put(f"classes/Stats/{oid}", {"stats.detail.y": {"__op": "Increment"}})
    assert bad.status_code == 400 and bad.json()["code"] == 111


def test_native_nested_increment_is_atomic_and_typed(project, master):
    """The documents API takes the same dotted keys (the Parse face only renames them)."""
    from rest_framework.test import APIClient

    oid = master.post("classes/Stats", {"stats": {"wins": 1}}).json()["objectId"]
    native = APIClient()
    native.credentials(HTTP_X_API_KEY=project.secret)
    url = f"/api/v1/collections/stats/documents/{oid}"
    answer = native.patch(url, {"stats.wins": {"__op": "increment", "by": 4}}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["stats"] == {"wins": 5}
    unknown = native.patch(url, {"nothing.here": 1}, format="json")
    assert unknown.status_code == 400


def test_parse_requests_count_as_project_traffic(project, master, rest):
    """Requests through /parse/ are counted in the project's usage like /api/v1 ones."""
    from basalt.usage.models import UsageDay
    from tests.usage.test_usage import usage

    master.post("classes/Note", {"text": "a"})
    rest.get("classes/Note")
    assert usage(project).json()["totals"]["requests"] == 2
    assert UsageDay.objects.get(project=project.project).requests == 2


def test_browser_origins_listed_by_the_project_get_cors_headers(project, master):
    """The browser SDK calls /parse/ from the app's origin: allowed when the project lists it."""
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"cors_origins": ["https://app.example"]})
    allowed = master.http.get("/parse/classes/X", HTTP_ORIGIN="https://app.example", **master.headers)
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example"
    other = master.http.get("/parse/classes/X", HTTP_ORIGIN="https://evil.example", **master.headers)
    assert "Access-Control-Allow-Origin" not in other


def test_a_key_resolves_against_its_own_class_in_a_batch(project, master):
    """A Parse key names the field of the class it is written to: `level_2` is a native field
    `level_2` of one class and, written to a class without it, the new field `level__2` (the
    face remembers resolved keys per schema; a batch writes both classes)."""
    from rest_framework.test import APIClient

    native = APIClient()
    native.credentials(HTTP_X_API_KEY=project.secret)
    made = native.post(
        "/api/v1/schema/collections",
        {"name": "stats_a", "fields": {"level_2": {"type": "number"}}, "permissions": {}},
        format="json",
    )
    assert made.status_code == 201, made.content
    requests = [
        {"method": "POST", "path": "/parse/classes/StatsA", "body": {"level_2": 5}},
        {"method": "POST", "path": "/parse/classes/StatsB", "body": {"level_2": 7}},
        {"method": "POST", "path": "/parse/classes/StatsA", "body": {"level_2": 6}},
        {"method": "POST", "path": "/parse/classes/StatsB", "body": {"level_2": 8}},
    ]
    answered = master.post("batch", {"requests": requests})
    assert answered.status_code == 200 and all("success" in r for r in answered.json()), answered.content
    a = native.get("/api/v1/collections/stats_a/documents", {"order": "level_2"}).json()["results"]
    b = native.get("/api/v1/collections/stats_b/documents", {"order": "level__2"}).json()["results"]
    assert [d["level_2"] for d in a] == [5, 6] and all("level__2" not in d for d in a)
    assert [d["level__2"] for d in b] == [7, 8]
    for cls, values in (("StatsA", [5, 6]), ("StatsB", [7, 8])):
        found = master.get(f"classes/{cls}", {"order": "level_2"}).json()["results"]
        assert [o["level_2"] for o in found] == values

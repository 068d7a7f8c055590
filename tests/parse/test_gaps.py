"""include through arrays of pointers, $containedBy, $geoWithin ($box, $polygon, $centerSphere),
schema indexes: as Parse Server answers them, bounded, and Parse-shaped errors for hostile input."""

from __future__ import annotations

import pytest

from basalt.parse import includes

pytestmark = pytest.mark.django_db(transaction=True)


def _ptr(class_name: str, oid: str) -> dict:
    return {"__type": "Pointer", "className": class_name, "objectId": oid}


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return sorted(o["name"] for o in response.json()["results"])


@pytest.fixture
def league(master):
    """Two teams with arrays of player pointers; players point at a city."""
    paris = master.post("classes/City", {"name": "Paris"}).json()["objectId"]
    players = [
        master.post("classes/Player", {"name": f"p{i}", "city": _ptr("City", paris)}).json()["objectId"]
        for i in range(3)
    ]
    red = master.post(
        "classes/Team", {"name": "red", "players": [_ptr("Player", players[0]), _ptr("Player", players[1])]}
    )
    blue = master.post("classes/Team", {"name": "blue", "players": [_ptr("Player", players[1]), "not a pointer"]})
    assert red.status_code == blue.status_code == 201
    return {"players": players, "red": red.json()["objectId"], "blue": blue.json()["objectId"], "paris": paris}


def test_include_array_of_pointers(master, league):
    found = master.get("classes/Team", {"include": "players", "order": "name"}).json()["results"]
    blue, red = found
    assert [p["name"] for p in red["players"]] == ["p0", "p1"]
    assert all(p["__type"] == "Object" and p["className"] == "Player" for p in red["players"])
    # A non-pointer element is left as it is; the same object in two arrays is inlined in both.
    assert blue["players"][0]["name"] == "p1" and blue["players"][1] == "not a pointer"
    # Nested: through the array, then a pointer of each element.
    got = master.get(f"classes/Team/{league['red']}", {"include": "players.city"}).json()
    assert [p["city"]["name"] for p in got["players"]] == ["Paris", "Paris"]
    assert got["players"][0]["city"]["__type"] == "Object"
    # Without include the array holds pointers.
    plain = master.get(f"classes/Team/{league['red']}").json()
    assert plain["players"][0] == _ptr("Player", league["players"][0])


def test_include_pointer_then_array(master, league):
    master.post("classes/Fan", {"name": "f", "team": _ptr("Team", league["red"])})
    fan = master.get("classes/Fan", {"include": "team.players"}).json()["results"][0]
    assert fan["team"]["name"] == "red" and [p["name"] for p in fan["team"]["players"]] == ["p0", "p1"]


def test_include_array_respects_acls(master, signed_up, league):
    alice = signed_up("alice")
    secret = master.post("classes/Player", {"name": "hidden", "ACL": {"nobody": {"read": True}}}).json()["objectId"]
    mine = {"*": {"read": True}}
    oid = master.post(
        "classes/Team",
        {"name": "mixed", "players": [_ptr("Player", secret), _ptr("Player", league["players"][2])], "ACL": mine},
    ).json()["objectId"]
    got = alice.get(f"classes/Team/{oid}", {"include": "players"})
    assert got.status_code == 200, got.content
    players = got.json()["players"]
    # What the caller may not read stays a pointer (as a pointer to a missing object does).
    assert players[0] == _ptr("Player", secret)
    assert players[1]["name"] == "p2"


def test_include_array_is_bounded(master, league, monkeypatch):
    monkeypatch.setattr(includes, "MAX_OBJECTS", 1)
    response = master.get("classes/Team", {"include": "players"})
    assert response.status_code == 400 and response.json()["code"] == 102
    monkeypatch.setattr(includes, "MAX_OBJECTS", 1000)
    monkeypatch.setattr(includes, "MAX_OCCURRENCES", 2)
    response = master.get("classes/Team", {"include": "players"})
    assert response.status_code == 400 and response.json()["code"] == 102


def test_include_array_hostile_pointers(master):
    """Pointers to unknown or invalid classes, non-string ids and junk elements never 5xx."""
    junk = [
        {"__type": "Pointer", "className": "Nope", "objectId": "x"},
        {"__type": "Pointer", "className": "bad name!", "objectId": "x"},
        {"__type": "Pointer", "className": "Player", "objectId": 5},
        {"__type": "Object", "className": "Player"},
        [1, 2],
        None,
    ]
    master.post("classes/Player", {"name": "x"})
    oid = master.post("classes/Team", {"name": "junk", "players": junk}).json()["objectId"]
    response = master.get(f"classes/Team/{oid}", {"include": "players.city.x"})
    assert response.status_code in (200, 400), response.content
    assert master.get(f"classes/Team/{oid}", {"include": "players"}).status_code in (200, 400)
    deep = master.get("classes/Team", {"include": "players.a.b.c"})
    assert deep.status_code in (200, 400) and deep.status_code < 500


def test_contained_by(master):
    for name, tags in (("a", ["x"]), ("b", ["x", "y"]), ("c", ["x", "z"]), ("d", []), ("e", ["y", "y"])):
        master.post("classes/Item", {"name": name, "tags": tags})
    master.post("classes/Item", {"name": "f"})  # no tags: not contained (as Parse Server on PostgreSQL)
    assert _ids(master.get("classes/Item", {"where": {"tags": {"$containedBy": ["x", "y"]}}})) == ["a", "b", "d", "e"]
    assert _ids(master.get("classes/Item", {"where": {"tags": {"$containedBy": []}}})) == ["d"]
    both = {"tags": {"$containedBy": ["x", "y"], "$all": ["y"]}}
    assert _ids(master.get("classes/Item", {"where": both})) == ["b", "e"]
    assert master.get("classes/Item", {"where": {"tags": {"$containedBy": "x"}}}).json() == {
        "code": 107,
        "error": "bad $containedBy: should be an array",
    }
    for bad in ("x", {"a": 1}, None, [{"nested": 1}]):
        response = master.get("classes/Item", {"where": {"tags": {"$containedBy": bad}}})
        assert response.status_code == 400 and response.json()["code"] in (102, 107, 111), response.content
    too_many = master.get("classes/Item", {"where": {"tags": {"$containedBy": list(range(5000))}}})
    assert too_many.status_code == 400 and too_many.json()["code"] == 102


def _geo(lat: float, lng: float) -> dict:
    return {"__type": "GeoPoint", "latitude": lat, "longitude": lng}


@pytest.fixture
def places(master):
    for name, lat, lng in (("paris", 48.85, 2.35), ("lyon", 45.76, 4.84), ("nyc", 40.71, -74.0), ("rome", 41.9, 12.5)):
        assert master.post("classes/Place", {"name": name, "at": _geo(lat, lng)}).status_code == 201
    master.post("classes/Place", {"name": "nowhere"})


def test_geo_within_box_polygon_center_sphere(master, places):
    box = {"$box": [_geo(44, 0), _geo(50, 6)]}
    assert _ids(master.get("classes/Place", {"where": {"at": {"$geoWithin": box}}})) == ["lyon", "paris"]
    # A triangle around Paris and Rome that leaves Lyon out (concave side), in GeoPoints...
    triangle = [_geo(49.5, 1.0), _geo(41, 13), _geo(49.5, 13)]
    where = {"at": {"$geoWithin": {"$polygon": triangle}}}
    assert _ids(master.get("classes/Place", {"where": where})) == ["paris", "rome"]
    # ... as a Polygon value and as bare pairs, both [lng, lat] as Parse Server reads them.
    coords = [[p["longitude"], p["latitude"]] for p in triangle]
    polygon = {"__type": "Polygon", "coordinates": coords}
    assert _ids(master.get("classes/Place", {"where": {"at": {"$geoWithin": {"$polygon": polygon}}}})) == [
        "paris",
        "rome",
    ]
    assert _ids(master.get("classes/Place", {"where": {"at": {"$geoWithin": {"$polygon": coords}}}})) == [
        "paris",
        "rome",
    ]
    # A concave polygon: a "C" open to the east whose mouth holds Lyon.
    c_shape = [_geo(50, 0), _geo(50, 8), _geo(47, 8), _geo(47, 3), _geo(44, 3), _geo(44, 8), _geo(43, 8), _geo(43, 0)]
    assert _ids(master.get("classes/Place", {"where": {"at": {"$geoWithin": {"$polygon": c_shape}}}})) == ["paris"]
    # $centerSphere: [center, radius in radians]; the center as a GeoPoint or [lng, lat].
    km_500 = 500 / 6371.0
    sphere = {"at": {"$geoWithin": {"$centerSphere": [_geo(48.85, 2.35), km_500]}}}
    assert _ids(master.get("classes/Place", {"where": sphere})) == ["lyon", "paris"]
    sphere = {"at": {"$geoWithin": {"$centerSphere": [[-74.0, 40.71], 0.01]}}}
    assert _ids(master.get("classes/Place", {"where": sphere})) == ["nyc"]


@pytest.mark.parametrize(
    "geo",
    [
        {"$polygon": [_geo(1, 1), _geo(2, 2)]},
        {"$polygon": "x"},
        {"$polygon": [_geo(1, 1), _geo(2, 2), {"lat": 1}]},
        {"$polygon": [_geo(1, 1), _geo(2, 2), _geo(95, 0)]},
        {"$polygon": [[0, 0]] * 101},
        {"$polygon": {"__type": "Polygon", "coordinates": "x"}},
        {"$box": [_geo(1, 1)]},
        {"$centerSphere": [_geo(1, 1)]},
        {"$centerSphere": [_geo(1, 1), -1]},
        {"$centerSphere": [_geo(1, 1), "far"]},
        {"$centerSphere": [[1, 2, 3], 1]},
        {"$unknown": 1},
        {"$box": [_geo(1, 1), _geo(2, 2)], "$polygon": []},
        [],
        "x",
    ],
)
def test_geo_within_hostile(master, places, geo):
    response = master.get("classes/Place", {"where": {"at": {"$geoWithin": geo}}})
    assert response.status_code == 400, response.content
    # Parse Server's 107 for a malformed shape; the query engine's own bounds and ranges are 102.
    assert response.json()["code"] in (102, 107) and response.json()["error"]


def test_geo_intersects_is_refused_clearly(master):
    master.post("classes/Zone", {"name": "z", "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]}})
    response = master.get("classes/Zone", {"where": {"area": {"$geoIntersects": {"$point": _geo(0.5, 0.5)}}}})
    assert response.status_code == 400
    assert response.json() == {"code": 102, "error": "$geoIntersects is not supported: Polygon fields are not indexed."}


def test_schema_indexes(master):
    body = {
        "fields": {"score": {"type": "Number"}, "tags": {"type": "Array"}},
        "indexes": {"s": {"score": -1, "tags": 1}},
    }
    created = master.post("schemas/Indexed", body)
    assert created.status_code == 200, created.content
    assert created.json()["indexes"]["score_tags"] == {"score": -1, "tags": 1}
    for bad in ([], {"x": {"score": 2}}, {"x": {}}, {"x": {"score": True}}, {"x": "score"}, {"x": {"bad name!": 1}}):
        response = master.post("schemas/Bad", {"indexes": bad})
        assert response.status_code == 400 and response.json()["code"] in (105, 107), (bad, response.content)

"""Files, config, schemas, server info and full-text search through /parse/."""

from __future__ import annotations

import pytest
from django.db import DataError, OperationalError

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }


def test_file_upload_and_attach(master, rest):
    """POST /files/{name} with the raw bytes answers {name, url}; a File value stores and reads back."""
    uploaded = rest.http.post(
        "/parse/files/hello.txt", b"hello world", content_type="text/plain; charset=utf-8", **rest.headers
    )
    # text/plain is the JS SDK's JSON form; raw bytes come with their own type.
    assert uploaded.status_code == 400
    refused = rest.http.post("/parse/files/a.png", b"\x89PNG\r\n\x1a\n", content_type="image/png", **rest.headers)
    assert refused.json()["code"] == 119  # the project's files settings decide who uploads (default: secret key)
    uploaded = master.http.post(
        "/parse/files/pic.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, content_type="image/png", **master.headers
    )
    assert uploaded.status_code == 201, uploaded.content
    body = uploaded.json()
    assert body["name"].endswith("_pic.png") and body["url"].startswith("http://testserver/api/v1/files/")
    oid = master.post("classes/Doc", {"file": {"__type": "File", "name": body["name"], "url": body["url"]}}).json()[
        "objectId"
    ]
    got = master.get(f"classes/Doc/{oid}").json()["file"]
    assert got == {"__type": "File", "name": body["name"], "url": body["url"]}


def test_config(master, rest):
    assert rest.get("config").json() == {"params": {}, "masterKeyOnly": {}}
    assert rest.put("config", {"params": {"a": 1}}).json()["code"] == 119
    assert master.put("config", {"params": {"a": 1, "b": "x"}}).json() == {"result": True}
    assert rest.get("config").json()["params"] == {"a": 1, "b": "x"}
    # PostgreSQL cannot store U+0000: refused before the write, not a 500 from the database.
    refused = master.put("config", {"params": {"c": ["x\x00"]}})
    assert refused.status_code == 400 and refused.json()["code"] != 1, refused.content
    assert rest.get("config").json()["params"] == {"a": 1, "b": "x"}


@pytest.mark.parametrize(
    ("raised", "status"), [(DataError("value out of range"), 400), (OperationalError("connection refused"), 503)]
)
def test_database_errors_are_answered_as_through_api_v1(master, monkeypatch, raised, status):
    """The face answered 500 for what /api/v1 maps: a value the database refused (400), the database
    unreachable (503), each in Parse's shape."""
    from basalt.parse import misc

    def fails(req):
        raise raised

    monkeypatch.setattr(misc, "_config", fails)
    answer = master.get("config")
    assert answer.status_code == status and answer.json()["code"] != 1, answer.content


def test_schemas(master, rest):
    created = master.post(
        "schemas/Planet",
        {
            "className": "Planet",
            "fields": {"name": {"type": "String"}, "moon": {"type": "Pointer", "targetClass": "Planet"}},
            "classLevelPermissions": {"find": {"*": True}, "get": {"requiresAuthentication": True}},
        },
    )
    assert created.status_code == 200, created.content
    body = created.json()
    assert body["className"] == "Planet" and body["fields"]["moon"] == {"type": "Pointer", "targetClass": "Planet"}
    assert body["classLevelPermissions"]["get"] == {"requiresAuthentication": True}
    assert master.post("schemas/Planet", {}).json()["code"] == 103
    updated = master.put("schemas/Planet", {"fields": {"mass": {"type": "Number"}, "name": {"__op": "Delete"}}}).json()
    assert "mass" in updated["fields"] and "name" not in updated["fields"]
    assert rest.get("schemas").json()["code"] == 119
    assert "Planet" in [s["className"] for s in master.get("schemas").json()["results"]]
    assert master.delete("schemas/Planet").json() == {}
    assert master.get("schemas/Planet").json()["code"] == 103
    info = master.get("serverInfo").json()
    assert info["features"]["cloudCode"] == {"jobs": False}


def test_full_text_and_polygon(master):
    master.post(
        "classes/Article",
        {"body": "the quick brown fox", "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]}},
    )
    master.post("classes/Article", {"body": "lazy dogs sleep"})
    found = master.get("classes/Article", {"where": {"body": {"$text": {"$search": {"$term": "fox"}}}}})
    assert found.status_code == 200, found.content
    assert [a["body"] for a in found.json()["results"]] == ["the quick brown fox"]
    assert found.json()["results"][0]["area"]["__type"] == "Polygon"
    unsupported = master.get("classes/Article", {"where": {"tags": {"$containedBy": ["a"]}}})
    assert unsupported.status_code == 400 and unsupported.json()["code"] == 102


def test_me_without_token_and_health(rest):
    assert rest.get("users/me").json() == {"code": 209, "error": "Invalid session token"}
    assert rest.http.get("/parse/health").json() == {"status": "ok"}

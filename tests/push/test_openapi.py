"""The push fragment documents every push and installations route, every $ref resolves, and the
per-project OpenAPI (what the schema fuzzer reads) carries it."""

from __future__ import annotations

import json
import re

import pytest

from basalt.push import openapi, urls
from tests.push.conftest import key_client


def _route_to_openapi(pattern: str) -> str:
    path = pattern.lstrip("^").replace("/?$", "").replace("$", "")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)
    return "/api/v1/" + path


def test_every_route_is_documented_and_refs_resolve():
    routes = {_route_to_openapi(p.pattern.regex.pattern) for p in urls.urlpatterns}
    assert routes == set(openapi.paths())
    components = {**openapi.components(), "Error": {}}
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps([openapi.paths(), openapi.components()])))
    assert refs <= set(components), refs - set(components)


@pytest.mark.django_db
def test_project_openapi_carries_the_push_routes(project):
    spec = key_client(project.secret).get("/api/v1/openapi.json").json()
    assert set(openapi.paths()) <= set(spec["paths"])
    assert spec["paths"]["/api/v1/push"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PushRequest"
    }
    assert "PushRequest" in spec["components"]["schemas"]


@pytest.mark.django_db
def test_a_collection_named_like_a_push_component_gets_its_own_name(project):
    """`push` would read as the `Push` schema: the collection's stem moves aside, the fragment keeps its name."""
    secret = key_client(project.secret)
    made = secret.post(
        "/api/v1/schema/collections", {"name": "push", "fields": {"n": {"type": "number"}}}, format="json"
    )
    assert made.status_code == 201, made.content
    spec = secret.get("/api/v1/openapi.json").json()
    assert spec["components"]["schemas"]["Push"] == openapi.components()["Push"]
    ref = spec["paths"]["/api/v1/collections/push/documents/{id}"]["get"]["responses"]["200"]
    assert "Push2" in json.dumps(ref)

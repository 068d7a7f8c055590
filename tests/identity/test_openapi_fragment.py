"""The identity OpenAPI fragment covers every identity route and every $ref resolves."""

from __future__ import annotations

import json
import re

from basalt.identity import openapi, urls


def _route_to_openapi(pattern: str) -> str:
    path = pattern.lstrip("^").replace("/?$", "").replace("$", "").replace("\\.", ".")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", path)
    return "/api/v1/" + path.replace("{session_id}", "{id}")


def test_every_route_is_documented_and_refs_resolve():
    documented = set(openapi.paths())
    routes = {_route_to_openapi(p.pattern.regex.pattern) for p in urls.urlpatterns}
    assert routes == documented
    components = {**openapi.components(), "Error": {}}
    refs = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps([openapi.paths(), openapi.components()])))
    assert refs <= set(components), refs - set(components)

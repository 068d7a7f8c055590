"""Collection names that spell a built-in schema (`query`, `error`) or another collection's never overwrite it."""

from __future__ import annotations

import json

from openapi_spec_validator import OpenAPIV31SpecValidator

from basalt.documents.cache import build_schema
from basalt.documents.models import Collection
from basalt.documents.openapi import build_document

NAMES = ["query", "error", "document", "posts", "posts_create", "a_b", "a__b", "ab", "ab_"]


def _document() -> dict:
    schemas = [
        build_schema(
            Collection(name=name, fields={f"only_{i}": {"type": "string"}, "ref": {"type": "pointer", "to": "posts"}})
        )
        for i, name in enumerate(NAMES)
    ]
    return build_document(schemas)


def _resolve(document: dict, ref: str) -> dict:
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def test_every_collection_keeps_its_own_schemas_and_the_built_ins_survive():
    document = _document()
    OpenAPIV31SpecValidator(document).validate()
    schemas = document["components"]["schemas"]
    assert set(schemas["Query"]["properties"]) >= {"where", "order", "limit"}
    assert set(schemas["Error"]["properties"]) == {"error"}
    seen: set[str] = set()
    for i, name in enumerate(NAMES):
        item = document["paths"][f"/api/v1/collections/{name}/documents"]
        create = _resolve(document, item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"])
        assert set(create["properties"]) == {f"only_{i}", "ref", "acl"}, name
        read_ref = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["results"]
        read = _resolve(document, read_ref["items"]["$ref"])
        assert f"only_{i}" in read["properties"], name
        seen.add(item["get"]["operationId"])
    assert len(seen) == len(NAMES)  # operation ids are unique too
    # An expanded pointer refers to the schema of `posts`, not to the one of `posts_create`.
    posts = document["paths"]["/api/v1/collections/posts/documents"]["post"]["requestBody"]
    posts_read = _resolve(document, posts["content"]["application/json"]["schema"]["$ref"].replace("Create", ""))
    assert posts_read["properties"]["ref"]["anyOf"][1] == {"$ref": "#/components/schemas/Posts"}
    assert "only_3" in schemas["Posts"]["properties"]
    for ref in {part.split('"')[0] for part in json.dumps(document).split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schemas, ref

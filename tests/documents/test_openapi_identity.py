"""The platform and project OpenAPI documents carry identity's auth and roles API, intact."""

from __future__ import annotations

import json
import re

import pytest

from basalt.documents.openapi import build_document
from basalt.identity import openapi as identity

from .conftest import key_client


def _operation_ids(doc: dict) -> list[str]:
    return [
        operation["operationId"]
        for item in doc["paths"].values()
        for method, operation in item.items()
        if method != "parameters"
    ]


def _check_refs(doc: dict) -> None:
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"]), refs - set(doc["components"]["schemas"])


def test_platform_document_includes_identity():
    doc = build_document()
    assert set(identity.paths()) <= set(doc["paths"])
    for name, component in identity.components().items():
        assert doc["components"]["schemas"][name] == component
    assert doc["components"]["securitySchemes"]["bearer"] == identity.security_schemes()["bearer"]
    ids = _operation_ids(doc)
    assert len(ids) == len(set(ids))
    _check_refs(doc)


@pytest.mark.django_db
def test_collection_names_cannot_shadow_identity_components_or_operations(project, make_collection):
    """A collection `role`, `me` or `jwks` gets its own names; `getMe` and `Role` stay identity's."""
    for name in ("role", "me", "jwks", "session", "signed_in"):
        make_collection({"name": name, "fields": {"t": {"type": "string"}}, "permissions": {"get": ["*"]}})
    doc = key_client(project.secret).get("/api/v1/openapi.json").json()
    ids = _operation_ids(doc)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for name, component in identity.components().items():
        assert doc["components"]["schemas"][name] == component
    assert doc["paths"]["/api/v1/auth/me"]["get"]["operationId"] == "getMe"
    assert "/api/v1/collections/me/documents/{id}" in doc["paths"]
    _check_refs(doc)

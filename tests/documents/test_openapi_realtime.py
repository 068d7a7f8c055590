"""The platform and project OpenAPI documents carry realtime's SSE routes, and they match the served ones."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve
from openapi_spec_validator import OpenAPIV31SpecValidator

from basalt.documents.openapi import build_document
from basalt.realtime import openapi as realtime
from basalt.realtime.protocol import HANDLERS

from .conftest import key_client

COMMITTED = Path(__file__).resolve().parents[2] / "sdk" / "openapi" / "basalt.json"
SSE_PATHS = {"/api/v1/realtime/sse", "/api/v1/realtime/sse/{connection_id}"}


def test_realtime_sse_routes_are_in_the_platform_document():
    doc = build_document()
    OpenAPIV31SpecValidator(doc).validate()
    assert SSE_PATHS <= set(doc["paths"])
    assert doc["paths"]["/api/v1/realtime/sse"]["get"]["operationId"] == "openRealtimeStream"
    assert doc["paths"]["/api/v1/realtime/sse/{connection_id}"]["post"]["operationId"] == "sendRealtimeMessage"
    # The message body names exactly the ops the server handles.
    assert doc["components"]["schemas"]["RealtimeMessage"]["properties"]["op"]["enum"] == sorted(HANDLERS)
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(doc)))
    assert refs <= set(doc["components"]["schemas"])
    # The committed document (what SDKs are generated from) carries them too.
    assert SSE_PATHS <= set(json.loads(COMMITTED.read_text())["paths"])


def test_documented_realtime_paths_are_served_routes():
    for path in realtime.paths():
        try:
            resolve(path.replace("{connection_id}", "abc123"))
        except Resolver404:
            pytest.fail(f"{path} is documented but not routed")


@pytest.mark.django_db
def test_project_document_includes_sse_and_a_collection_cannot_shadow_its_message(project, make_collection):
    make_collection({"name": "realtime_message", "fields": {"t": {"type": "string"}}, "permissions": {"get": ["*"]}})
    doc = key_client(project.secret).get("/api/v1/openapi.json").json()
    assert SSE_PATHS <= set(doc["paths"])
    assert doc["components"]["schemas"]["RealtimeMessage"] == realtime.components()["RealtimeMessage"]

"""OpenAPI (API.md §9): the committed platform document is fresh; a project's document is typed per collection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from basalt.documents.management.commands.export_openapi import render_platform_document

ROOT = Path(__file__).resolve().parents[2]


def test_committed_platform_document_is_not_stale():
    committed = (ROOT / "sdk/openapi/basalt.json").read_text(encoding="utf-8")
    assert committed == render_platform_document(), "run: python manage.py export_openapi sdk/openapi/basalt.json"


def test_ci_step_fails_when_stale(tmp_path):
    """The CI step itself diffs: prove it exits non-zero on a different document."""
    script = (ROOT / ".ci/steps/openapi.sh").read_text()
    assert "diff" in script and "export_openapi" in script
    env = {**os.environ, "VENV": str(Path(sys.executable).parents[1])}
    ok = subprocess.run(["bash", str(ROOT / ".ci/steps/openapi.sh")], env=env, capture_output=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr


@pytest.mark.django_db
def test_project_document_is_typed_per_collection(project, pk, secret_client):
    secret_client.patch("/api/v1/schema/collections/posts", {"protected_fields": {"*": ["meta"]}}, format="json")
    response = pk.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    posts = schemas["Posts"]
    assert posts["properties"]["title"] == {"type": "string", "maxLength": 200}
    assert posts["properties"]["kind"]["enum"] == ["note", "link"]
    assert posts["properties"]["due"]["format"] == "date-time"
    assert posts["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert "meta" not in posts["properties"]  # protected from the publishable key
    assert schemas["PostsCreate"]["required"] == ["title"]
    assert "meta" in secret_client.get("/api/v1/openapi.json").json()["components"]["schemas"]["Posts"]["properties"]
    paths = doc["paths"]
    assert set(paths["/api/v1/collections/posts/documents"]) == {"get", "post"}
    assert set(paths["/api/v1/collections/posts/documents/{id}"]) >= {"get", "patch", "delete"}
    assert "/api/v1/collections/posts/query" in paths and "/api/v1/batch" in paths
    # every $ref resolves
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schemas, ref


@pytest.mark.django_db
def test_openapi_needs_a_key(api):
    assert api.get("/api/v1/openapi.json").status_code == 401


def test_every_operation_documents_the_url_limit():
    """Any request can be refused for its URL's length before routing (414): clients generated from the
    document, and the fuzz run, must expect it on every operation."""
    document = json.loads(render_platform_document())
    operations = [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) > 50
    assert [(path, method) for path, method, operation in operations if "414" not in operation["responses"]] == []

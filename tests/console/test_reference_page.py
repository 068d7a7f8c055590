"""API reference page and its session-authenticated OpenAPI document."""

from __future__ import annotations

import json
import re

import pytest

from basalt.documents import catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def recipes(project):
    catalog.create_collection(
        project.project,
        {
            "name": "recipes",
            "fields": {"title": {"type": "string"}, "secret_note": {"type": "string"}},
            "protected_fields": {"*": ["secret_note"]},
        },
    )
    return project


def doc_url(project) -> str:
    return f"/console/p/{project.project.ref}/reference/openapi.json"


@pytest.mark.parametrize("role", ["viewer", "developer", "admin", "owner"])
def test_every_member_gets_the_projects_own_document(recipes, member_client, owner_client, role):
    client = owner_client if role == "owner" else member_client(role)
    page = client.get(f"/console/p/{recipes.project.ref}/reference")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="swagger-ui"' in html and "swagger-ui-bundle.js" in html and "reference.js" in html
    assert "style=" not in html
    response = client.get(doc_url(recipes))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Security-Policy"].startswith("default-src 'self'")
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == f"{recipes.project.name} data API"
    operation = document["paths"]["/api/v1/collections/recipes/documents"]["get"]
    # Grouped by area: documents per collection first, then Auth, Roles, Files, …
    assert operation["tags"] == ["Documents · recipes"]
    assert 'basalt.collection("recipes").find(' in operation["description"]
    assert {"name": "Documents · recipes"} in document["tags"] and document["tags"][0]["name"].startswith("Documents")
    auth = [op for path, item in document["paths"].items() if path.startswith("/api/v1/auth/") for op in item.values()]
    assert auth and all(op["tags"] == ["Auth"] for op in auth if isinstance(op, dict) and "operationId" in op)
    assert document["servers"] == [{"url": "http://testserver"}]
    # The console sees the project as its secret key does: protected fields are documented too.
    assert "secret_note" in json.dumps(document["components"]["schemas"])


def test_the_document_is_the_same_schema_the_api_serves(recipes, owner_client, secret_client):
    console_doc = json.loads(owner_client.get(doc_url(recipes)).content)
    api_doc = secret_client.get("/api/v1/openapi.json").json()
    assert console_doc["components"] == api_doc["components"]
    assert set(console_doc["paths"]) == set(api_doc["paths"])


def test_other_accounts_and_anonymous_visitors_get_nothing(recipes, browser_for, make_account, client):
    stranger = browser_for(make_account())
    for path in (f"/console/p/{recipes.project.ref}/reference", doc_url(recipes)):
        response = stranger.get(path)
        assert response.status_code == 404 and b"recipes" not in response.content
        anonymous = client.get(path)
        assert anonymous.status_code == 302 and "/console/signin" in anonymous["Location"]


def test_the_reference_link_loads_a_full_page_for_its_scripts(recipes, owner_client):
    """The sidebar's link loads the reference in full (its stylesheet in the head before the first
    paint); a reference swapped in by htmx starts too (tests/console/test_browser_swaps.py)."""
    html = owner_client.get(f"/console/p/{recipes.project.ref}/").content.decode()
    assert re.search(rf'href="/console/p/{recipes.project.ref}/reference/?" hx-boost="false"', html)

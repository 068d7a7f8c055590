"""API.md §9: a typed client generated from a project's OpenAPI document compiles and round-trips a document."""

from __future__ import annotations

import compileall
import datetime
import importlib
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from tests.contract.conftest import HIDDEN_FIELD
from tests.contract.live import ROOT

pytestmark = pytest.mark.live

PACKAGE = "basalt_contract_client"


def fetch_document(project, key: str) -> dict:
    response = httpx.get(f"{project.url}/api/v1/openapi.json", headers={"X-API-Key": key}, timeout=30)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def generate(document: dict, where: Path) -> Path:
    """Run openapi-python-client as a user would; any generator warning (a dropped schema) fails."""
    spec = where / "openapi.json"
    spec.write_text(json.dumps(document))
    config = where / "config.json"
    # No post hooks: formatting the output is not what is under test, and ruff's config is the repo's.
    # A file's bytes come back in whatever type the file has (`*/*`, API.md §5), which the generator
    # cannot model; its documented override reads them as binary, as a user's config would.
    overrides = {"*/*": "application/octet-stream"}
    config.write_text(
        json.dumps({"post_hooks": [], "package_name_override": PACKAGE, "content_type_overrides": overrides})
    )
    out = where / PACKAGE
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(spec),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(out),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Warning" not in run.stdout, run.stdout
    return out


@pytest.fixture(scope="module")
def client_package(live_project, tmp_path_factory) -> ModuleType:
    where = tmp_path_factory.mktemp("generated")
    package = generate(fetch_document(live_project, live_project.publishable), where)
    assert compileall.compile_dir(str(package), quiet=1), "generated client does not compile"
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


def _import(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


@pytest.mark.parametrize("kind", ["publishable", "secret"])
def test_project_document_is_valid_openapi_31(live_project, kind):
    document = fetch_document(live_project, getattr(live_project, kind))
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()
    schemas = document["components"]["schemas"]
    assert {"Posts", "PostsCreate", "PostsUpdate", "Authors"} <= set(schemas)
    # A locked collection (secret key only) is not advertised to anyone else.
    assert ("Ledger" in schemas) is (kind == "secret")
    # Anonymous callers are not told the protected field exists; the secret key is.
    assert (HIDDEN_FIELD in json.dumps(document)) is (kind == "secret")


def test_generated_client_round_trips_every_field_type(client_package, live_project):
    models = _import("models")
    client = _import("client").Client(
        base_url=live_project.url, headers={"X-API-Key": live_project.publishable}, raise_on_unexpected_status=True
    )
    create_authors, create_posts, get_posts, update_posts, query_posts, find_posts = (
        _import(f"api.default.{name}")
        for name in ("create_authors", "create_posts", "get_posts", "update_posts", "query_posts", "find_posts")
    )

    author = create_authors.sync(client=client, body=models.AuthorsCreate(name="Ada"))
    assert isinstance(author, models.Authors) and author.name == "Ada"

    due = datetime.datetime(2026, 11, 21, 10, 0, tzinfo=datetime.UTC)
    body = models.PostsCreate(
        title="Hello",
        score=4.5,
        published=True,
        kind=models.PostsCreateKind.LINK,
        tags=["a", "b"],
        meta=models.PostsCreateMeta.from_dict({"color": "red", "n": 1}),
        author=author.id,
        place=models.PostsCreatePlace(lat=48.85, lng=2.35),
        due=due,
    )
    created = create_posts.sync_detailed(client=client, body=body)
    assert created.status_code == 201
    post = created.parsed
    assert isinstance(post, models.Posts)
    assert created.headers["Location"] == f"/api/v1/collections/posts/documents/{post.id}"

    fetched = get_posts.sync(client=client, id=post.id)
    assert isinstance(fetched, models.Posts)
    assert (fetched.title, fetched.score, fetched.published, fetched.kind) == (
        "Hello",
        4.5,
        True,
        models.PostsKind.LINK,
    )
    assert fetched.tags == ["a", "b"]
    assert fetched.meta.to_dict() == {"color": "red", "n": 1}
    assert fetched.author == author.id
    assert (fetched.place.lat, fetched.place.lng) == (48.85, 2.35)
    assert fetched.due == due
    assert isinstance(fetched.created_at, datetime.datetime)
    expanded = get_posts.sync(client=client, id=post.id, expand="author")
    assert isinstance(expanded.author, models.Authors) and expanded.author.name == "Ada"

    patch = models.PostsUpdate(
        title="Hello again",
        score=models.Operation(field_op=models.OperationOp.INCREMENT, by=2),
        tags=models.Operation(field_op=models.OperationOp.ADD_UNIQUE, items=["b", "c"]),
    )
    updated = update_posts.sync(client=client, id=post.id, body=patch)
    assert isinstance(updated, models.Posts)
    assert (updated.title, updated.score, updated.tags) == ("Hello again", 6.5, ["a", "b", "c"])
    assert updated.updated_at >= fetched.updated_at

    page = query_posts.sync(
        client=client,
        body=models.Query(
            where=models.QueryWhere.from_dict({"author": author.id, "kind": "link", "score": {"$gte": 6}}), limit=10
        ),
    )
    assert [doc.id for doc in page.results] == [post.id]
    assert page.next_cursor is None
    assert page.results[0].title == "Hello again"

    listed = find_posts.sync(client=client, where=json.dumps({"author": author.id}), order="-created_at", limit="5")
    assert [doc.id for doc in listed.results] == [post.id]


def test_platform_document_is_valid_and_generates_a_client(tmp_path):
    """The committed document is what client generators are pointed at before any project exists."""
    document = json.loads((ROOT / "sdk/openapi/basalt.json").read_text())
    OpenAPIV31SpecValidator(document).validate()
    assert compileall.compile_dir(str(generate(document, tmp_path)), quiet=1)


def test_generated_client_surfaces_the_error_contract(client_package, live_project):
    """A refused create comes back as the typed Error model, not an exception from the client."""
    models = _import("models")
    create_posts = _import("api.default.create_posts")
    client = _import("client").Client(base_url=live_project.url, headers={"X-API-Key": live_project.publishable})
    response = create_posts.sync_detailed(client=client, body=models.PostsCreate(title="x" * 201))
    assert response.status_code == 400
    assert isinstance(response.parsed, models.Error)
    assert response.parsed.error.code == "validation_failed"

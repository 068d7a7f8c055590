"""Contract fixtures: one real server per test session and a project whose collections use every field type."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract import live

OPEN = {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")}

AUTHORS = {
    "name": "authors",
    "fields": {"name": {"type": "string", "max_length": 100}},
    "permissions": OPEN,
    "default_acl": "public",
}
POSTS = {
    "name": "posts",
    "fields": {
        "title": {"type": "string", "required": True, "max_length": 200},
        "score": {"type": "number", "default": 0},
        "published": {"type": "boolean"},
        "kind": {"type": "string", "choices": ["note", "link"]},
        "tags": {"type": "array", "items": "string"},
        "meta": {"type": "object"},
        "author": {"type": "pointer", "to": "authors"},
        "likes": {"type": "relation", "to": "authors"},
        "cover": {"type": "file"},
        "place": {"type": "geopoint"},
        "due": {"type": "date"},
        "internal_note": {"type": "string"},
    },
    "permissions": OPEN,
    "protected_fields": {"*": ["internal_note"]},
    "default_acl": "public",
}
# Secret key only: the anonymous caller must be refused on every operation, never served a 5xx.
LOCKED = {"name": "ledger", "fields": {"amount": {"type": "number", "min": 0}, "memo": {"type": "string"}}}
HIDDEN_FIELD = "internal_note"


@pytest.fixture(scope="session")
def basalt_server(tmp_path_factory) -> Iterator[live.Server]:
    server = live.start(tmp_path_factory.mktemp("contract") / "data")
    try:
        yield server
    finally:
        live.stop(server)


@pytest.fixture(scope="session")
def live_project(basalt_server) -> live.LiveProject:
    project = live.make_project(basalt_server.url)
    for definition in (AUTHORS, POSTS, LOCKED):
        live.create_collection(project, definition)
    return project

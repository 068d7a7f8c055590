"""Fixtures for the query engine: collections and documents written straight through the ORM."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

import basalt.documents.fields  # noqa: F401  (registers the built-in field types)
from basalt.documents.models import Collection, Document, Relation

LIMITS = {
    "max_in_values": 1000,
    "max_where_depth": 10,
    "max_regex_length": 256,
    "max_page_size": 1000,
    "max_expand_depth": 3,
}
FIELDS = {
    "title": {"type": "string"},
    "score": {"type": "number"},
    "published": {"type": "boolean"},
    "due": {"type": "date"},
    "tags": {"type": "array", "items": "string"},
    "meta": {"type": "object"},
    "author": {"type": "pointer", "to": "users"},
    "likes": {"type": "relation", "to": "users"},
    "place": {"type": "geopoint"},
    "secret": {"type": "string"},
}
_ids = itertools.count(1)
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def make_collection(project):
    def make(name: str = "posts", fields: dict | None = None, proj=None) -> Collection:
        return Collection.objects.create(project=proj or project.project, name=name, fields=fields or FIELDS)

    return make


@pytest.fixture
def coll(make_collection) -> Collection:
    return make_collection()


def add(collection: Collection, data: dict, readers=("*",), doc_id: str | None = None, **extra) -> Document:
    """Insert a document directly; ids are sortable counters unless given."""
    n = next(_ids)
    doc_id = doc_id or f"d{n:08d}"
    extra.setdefault("created_at", BASE + timedelta(seconds=n))
    extra.setdefault("updated_at", extra["created_at"])
    return Document.objects.create(
        id=doc_id,
        project_id=collection.project_id,
        collection=collection,
        data=data,
        read_principals=list(readers),
        acl={r: {"read": True} for r in readers},
        **extra,
    )


def relate(collection: Collection, field: str, from_id: str, to_id: str) -> Relation:
    return Relation.objects.create(
        project_id=collection.project_id, collection=collection, field=field, from_id=from_id, to_id=to_id
    )

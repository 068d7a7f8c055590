"""Fixtures for the documents area: a project with an open `posts` collection and helpers."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

POSTS = {
    "name": "posts",
    "fields": {
        "title": {"type": "string", "required": True, "max_length": 200},
        "score": {"type": "number", "default": 0},
        "published": {"type": "boolean"},
        "kind": {"type": "string", "choices": ["note", "link"]},
        "tags": {"type": "array", "items": "string"},
        "meta": {"type": "object"},
        "due": {"type": "date"},
        "place": {"type": "geopoint"},
        "cover": {"type": "file"},
        "slug": {"type": "string"},
    },
    "indexes": [{"fields": ["score"]}, {"fields": ["slug"], "unique": True}],
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
    "default_acl": "public",
}


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


@pytest.fixture
def make_collection(secret_client):
    def make(body: dict | None = None, client=None) -> dict:
        response = (client or secret_client).post("/api/v1/schema/collections", body or POSTS, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return make


@pytest.fixture
def posts(make_collection):
    return make_collection(POSTS)


@pytest.fixture
def pk(project, posts):
    """The publishable-key client of a project whose `posts` collection is open to `*`."""
    return key_client(project.publishable)


@pytest.fixture
def sk(project, posts):
    return key_client(project.secret)


@pytest.fixture
def eager_celery():
    """Run queued tasks inline, also when REDIS_URL points the broker at a Redis no worker reads."""
    from basalt.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


def refuse_writes_titled(monkeypatch, title: str) -> None:
    """The database refuses the write of a document titled `title` right after its insert ran, as
    it would a value no validation foresaw (on PostgreSQL this fails the transaction it runs in):
    a real refused statement, a failed cast there and an oversized blob on SQLite (both DataError)."""
    from django.db import connection

    from basalt.documents import store

    def refusing(write):
        def refused_when_titled(doc, *args, **kwargs):
            write(doc, *args, **kwargs)
            if doc.data.get("title") == title:
                refused = "SELECT 'x'::integer" if connection.vendor == "postgresql" else "SELECT zeroblob(2000000000)"
                with connection.cursor() as cursor:
                    cursor.execute(refused)

        return refused_when_titled

    monkeypatch.setattr(store, "insert", refusing(store.insert))
    monkeypatch.setattr(store, "insert_logged", refusing(store.insert_logged))

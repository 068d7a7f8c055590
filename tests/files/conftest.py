"""Files tests run on the local folder storage (SQLite pass) or on SeaweedFS S3 (PostgreSQL pass).

FILES_TEST_STORAGE=local|s3 chooses explicitly; otherwise a DATABASE_URL (the PostgreSQL pass)
means S3, so CI covers both storages without a separate run.
"""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

from tests.files import seaweed

STORAGE = os.environ.get("FILES_TEST_STORAGE") or ("s3" if os.environ.get("DATABASE_URL") else "local")


@pytest.fixture(scope="session")
def weed(tmp_path_factory):
    if STORAGE != "s3":
        yield None
        return
    server = seaweed.start(tmp_path_factory.mktemp("weed"))
    try:
        yield server
    finally:
        seaweed.stop(server)


@pytest.fixture(autouse=True)
def _inline_background_work(eager_tasks):
    """Thumbnails and sweeps run inline in every pass (tests/conftest.py `eager_tasks`)."""


@pytest.fixture(autouse=True)
def file_storage(settings, weed, tmp_path):
    """Point STORAGES['default'] (which the files registry follows) at this run's storage."""
    if weed is None:
        backend = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        }
    else:
        backend = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": weed.storage_options}
    settings.STORAGES = {**settings.STORAGES, "default": backend}
    from basalt.files.storage import get_storage

    storage = get_storage()
    if weed is not None:
        storage.delete_prefix("")  # project ids repeat between tests (rolled back); the bucket must not
    return storage


@pytest.fixture
def user_of(project):
    """A signed-up end-user's client of the project: (client, user id)."""

    def make(email: str = "user@example.com"):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=project.publishable)
        answer = client.post(
            "/api/v1/auth/signup", {"email": email, "password": "a long test passphrase"}, format="json"
        )
        assert answer.status_code in (200, 201), answer.content
        body = answer.json()
        client.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        return client, body["user"]["id"]

    return make


def upload(client, data: bytes, name: str = "a.bin", content_type: str = "application/octet-stream", **extra):
    """A raw-body upload through the API."""
    query = f"?name={name}" if name is not None else ""
    return client.generic("POST", f"/api/v1/files{query}", data, content_type=content_type, **extra)


def live_upload(url: str, key: str, content, name: str, timeout: float = 120, **headers: str):
    """A raw-body upload to a live server: bytes go with a Content-Length, an iterator chunked
    (unless a Content-Length header is given)."""
    import httpx

    return httpx.post(
        f"{url}/api/v1/files?name={name}",
        content=content,
        headers={"X-API-Key": key, "Content-Type": "application/octet-stream", **headers},
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory, weed):
    """A real `manage.py serve` on this run's storage, shared by the live tests of this folder."""
    from tests.contract import live

    overrides = dict(weed.env) if weed is not None else {}
    with live.running(tmp_path_factory.mktemp("files-live") / "data", overrides) as server:
        yield server


@pytest.fixture(scope="session")
def keys(server):
    from tests.contract import live

    return live.make_project(server.url, "Files live")


def content_of(answer) -> bytes:
    """The body of a content answer: small ones come whole, large ones streamed."""
    return b"".join(answer.streaming_content) if answer.streaming else answer.content

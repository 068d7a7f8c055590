"""API key lifecycle (API.md §8): shown once, stored hashed, listed without secrets, revoked at once."""

from __future__ import annotations

import hashlib
import json

import pytest
from rest_framework.test import APIClient

from tests.conftest import console_client_for
from tests.foundation.conftest import assert_error

pytestmark = pytest.mark.django_db


def keys_url(ref: str) -> str:
    return f"/api/v1/manage/projects/{ref}/keys"


def data_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    return client


@pytest.mark.parametrize(("kind", "prefix"), [("publishable", "pk_"), ("secret", "sk_")])
def test_create_key_shows_it_once_and_stores_only_its_hash(project, kind, prefix):
    from basalt.projects.models import ApiKey

    owner = console_client_for(project.owner)
    created = owner.post(keys_url(project.project.ref), {"kind": kind, "name": "CI"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) >= {"id", "kind", "name", "key", "last4", "created_at"}
    raw = body["key"]
    assert raw.startswith(prefix) and len(raw) >= 40
    assert body["kind"] == kind and body["name"] == "CI" and body["last4"] == raw[-4:]

    row = ApiKey.objects.get(id=body["id"])
    assert row.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    stored = json.dumps(list(ApiKey.objects.filter(id=body["id"]).values()), default=str)
    assert raw not in stored and raw[len(prefix) :] not in stored

    # The key works on the data API, as the kind it was created as.
    answer = data_client(raw).get("/api/v1/project")
    assert answer.status_code == 200
    assert answer.json()["ref"] == project.project.ref and answer.json()["key_kind"] == kind

    # Listing never shows the key or its hash again.
    listed = owner.get(keys_url(project.project.ref))
    assert listed.status_code == 200
    text = listed.content.decode()
    assert raw not in text and row.key_hash not in text
    entry = next(item for item in listed.json()["results"] if item["id"] == body["id"])
    assert "key" not in entry and "key_hash" not in entry and entry["last4"] == raw[-4:]


def test_no_response_carries_a_hash(project):
    """Hashes stay in the database: not in create, list, revoke or project responses."""
    from basalt.projects.models import ApiKey

    owner = console_client_for(project.owner)
    ref = project.project.ref
    responses = [
        owner.post(keys_url(ref), {"kind": "secret"}, format="json"),
        owner.get(keys_url(ref)),
        owner.get(f"/api/v1/manage/projects/{ref}"),
        owner.get("/api/v1/manage/projects"),
        data_client(project.secret).get("/api/v1/project"),
    ]
    hashes = list(ApiKey.objects.values_list("key_hash", flat=True))
    for response in responses:
        for key_hash in hashes:
            assert key_hash not in response.content.decode()


def test_revoked_key_is_refused_on_the_very_next_request(project):
    from basalt.projects.models import ApiKey

    owner = console_client_for(project.owner)
    client = data_client(project.secret)
    assert client.get("/api/v1/project").status_code == 200
    key_id = ApiKey.objects.get(project=project.project, kind="secret").id

    assert owner.delete(f"{keys_url(project.project.ref)}/{key_id}").status_code == 204
    assert_error(client.get("/api/v1/project"), 401, "invalid_api_key")
    # The other key of the project keeps working.
    assert data_client(project.publishable).get("/api/v1/project").status_code == 200

    revoked_at = ApiKey.objects.get(id=key_id).revoked_at
    assert owner.delete(f"{keys_url(project.project.ref)}/{key_id}/").status_code == 204
    assert ApiKey.objects.get(id=key_id).revoked_at == revoked_at
    listed = {item["id"]: item for item in owner.get(keys_url(project.project.ref)).json()["results"]}
    assert listed[key_id]["revoked_at"] is not None


def test_another_projects_key_id_is_not_found(make_project):
    from basalt.projects.models import ApiKey

    mine, theirs = make_project("Mine"), make_project("Theirs")
    their_key = ApiKey.objects.get(project=theirs.project, kind="secret")
    owner = console_client_for(mine.owner)
    assert_error(owner.delete(f"{keys_url(mine.project.ref)}/{their_key.id}"), 404, "not_found")
    assert ApiKey.objects.get(id=their_key.id).revoked_at is None
    assert data_client(theirs.secret).get("/api/v1/project").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "pk_doesnotexist",
        "sk_" + "a" * 43,
        "nonsense",
        "pk_" + "x" * 500,
        "Bearer pk_x",
    ],
)
def test_missing_or_unknown_key_is_invalid_api_key(api, header):
    extra = {} if header is None else {"HTTP_X_API_KEY": header}
    assert_error(api.get("/api/v1/project", **extra), 401, "invalid_api_key")


def test_key_with_a_swapped_prefix_is_refused(project):
    """A secret key presented as publishable (or the reverse) does not resolve."""
    swapped = "pk_" + project.secret[3:]
    assert_error(data_client(swapped).get("/api/v1/project"), 401, "invalid_api_key")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "master"},
        {"kind": ["secret"]},
        {"kind": None},
        {},
        {"kind": "secret", "name": 123},
        {"kind": "secret", "name": "x" * 101},
        {"kind": "secret", "key_hash": "0" * 64},
        ["secret"],
    ],
)
def test_create_key_with_bad_input_creates_nothing(project, body):
    from basalt.projects.models import ApiKey

    before = ApiKey.objects.count()
    response = console_client_for(project.owner).post(keys_url(project.project.ref), body, format="json")
    assert_error(response, 400, "validation_failed")
    assert ApiKey.objects.count() == before


def test_key_id_of_odd_shapes_is_not_found(project):
    owner = console_client_for(project.owner)
    for key_id in ["key_nope", "x" * 300, "%00", "1"]:
        assert_error(owner.delete(f"{keys_url(project.project.ref)}/{key_id}"), 404, "not_found")


def test_a_key_answers_with_its_projects_current_settings_on_the_very_next_request(project):
    """The key's project is cached per process by what can change on it: a settings change must
    reach the next request of the same process, and changing it back must too."""
    owner = console_client_for(project.owner)
    client = data_client(project.publishable)
    origin = "https://app.example"
    settings_url = f"/api/v1/manage/projects/{project.project.ref}/settings"

    def allowed() -> str | None:
        response = client.get("/api/v1/project", HTTP_ORIGIN=origin)
        assert response.status_code == 200, response.content
        return response.headers.get("Access-Control-Allow-Origin")

    assert allowed() is None
    assert owner.patch(settings_url, {"cors_origins": [origin]}, format="json").status_code == 200
    assert allowed() == origin
    assert owner.patch(settings_url, {"cors_origins": []}, format="json").status_code == 200
    assert allowed() is None
    assert owner.patch(settings_url, {"cors_origins": [origin]}, format="json").status_code == 200
    assert allowed() == origin


def test_what_one_request_sets_on_its_key_and_project_stays_in_that_request(project):
    from basalt.projects.keys import resolve_key
    from basalt.projects.models import ApiKey, Project

    first = resolve_key(project.secret)
    first.project.settings["cors_origins"] = ["https://leaked.example"]
    first.project.name = "changed in memory"
    first.project.caller_epoch = -1
    first.name = "changed in memory"

    second = resolve_key(project.secret)
    assert second is not first and second.project is not first.project
    assert second.project.settings == Project.objects.get(pk=project.project.pk).settings
    assert second.project.name == project.project.name and second.project.caller_epoch != -1
    assert second.name == ApiKey.objects.get(id=second.id).name


def test_a_renamed_key_and_project_and_a_new_schema_version_are_read_on_the_next_resolution(project):
    """Each change alone must reach the next resolution in this process (none rides on another)."""
    from django.db.models import F

    from basalt.core.errors import InvalidApiKey
    from basalt.projects.keys import resolve_key
    from basalt.projects.models import ApiKey, Project

    before = resolve_key(project.secret)
    ApiKey.objects.filter(id=before.id).update(name="renamed key")
    assert resolve_key(project.secret).name == "renamed key"
    Project.objects.filter(pk=before.project.pk).update(name="renamed project")
    assert resolve_key(project.secret).project.name == "renamed project"
    Project.objects.filter(pk=before.project.pk).update(schema_version=F("schema_version") + 1)
    after = resolve_key(project.secret)
    assert after.project.schema_version == before.project.schema_version + 1
    assert (after.name, after.project.name) == ("renamed key", "renamed project")

    ApiKey.objects.filter(id=before.id).update(revoked_at=after.created_at)
    with pytest.raises(InvalidApiKey):
        resolve_key(project.secret)

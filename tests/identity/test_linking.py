"""Linking and unlinking providers on the signed-in user; anonymous upgrade keeps id and data."""

from __future__ import annotations

import pytest

from basalt.identity.models import EndUser, LinkedIdentity

from .conftest import bearer_client, key_client
from .provider_fixtures import firebase_token, google_token

pytestmark = pytest.mark.django_db


def test_anonymous_user_upgrades_by_linking_and_keeps_id_and_data(project, providers):
    anon = key_client(project.publishable).post("/api/v1/auth/anonymous").json()
    client = bearer_client(project.publishable, anon["access_token"])
    # Data the anonymous user wrote stays theirs.
    secret = key_client(project.secret)
    definition = {
        "name": "notes",
        "fields": {"t": {"type": "string"}},
        "permissions": {"create": ["authenticated"], "get": ["authenticated"], "find": ["authenticated"]},
        "default_acl": "owner",
    }
    assert secret.post("/api/v1/schema/collections", definition, format="json").status_code == 201
    note = client.post("/api/v1/collections/notes/documents", {"t": "mine"}, format="json")
    assert note.status_code == 201, note.content
    linked = client.post(
        "/api/v1/auth/me/identities/google", {"id_token": google_token(providers, sub="anon-up")}, format="json"
    )
    assert linked.status_code == 201, linked.content
    user = linked.json()["user"]
    assert user["id"] == anon["user"]["id"] and user["is_anonymous"] is False
    assert user["email"] == "ann@example.com" and user["email_verified"] is True
    # Later, the provider signs in to the same user, whose document is still there.
    again = (
        key_client(project.publishable)
        .post("/api/v1/auth/providers/google", {"id_token": google_token(providers, sub="anon-up")}, format="json")
        .json()
    )
    assert again["user"]["id"] == anon["user"]["id"]
    mine = bearer_client(project.publishable, again["access_token"]).get(
        f"/api/v1/collections/notes/documents/{note.json()['id']}"
    )
    assert mine.status_code == 200 and mine.json()["t"] == "mine"


def test_link_then_unlink_and_the_last_way_in_stays(project, providers, user):
    response = user.client.post(
        "/api/v1/auth/me/identities/firebase", {"id_token": firebase_token(providers)}, format="json"
    )
    assert response.status_code == 201, response.content
    assert [i["provider"] for i in user.client.get("/api/v1/auth/me/identities").json()["results"]] == ["firebase"]
    assert user.client.delete("/api/v1/auth/me/identities/firebase").status_code == 204  # the password remains
    assert not LinkedIdentity.objects.exists()
    # A provider-only user cannot remove their only provider.
    signed = (
        key_client(project.publishable)
        .post(
            "/api/v1/auth/providers/google",
            {"id_token": google_token(providers, sub="only", email="only@example.com")},
            format="json",
        )
        .json()
    )
    only = bearer_client(project.publishable, signed["access_token"])
    refused = only.delete("/api/v1/auth/me/identities/google")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "last_sign_in_method"
    # With a second provider linked, the first can go.
    assert (
        only.post(
            "/api/v1/auth/me/identities/firebase",
            {"id_token": firebase_token(providers, sub="only-fb", email="x@example.com")},
            format="json",
        ).status_code
        == 201
    )
    assert only.delete("/api/v1/auth/me/identities/google").status_code == 204
    assert only.delete("/api/v1/auth/me/identities/firebase").status_code == 409


def test_a_provider_account_links_to_one_user_only(project, providers, signup):
    first, second = signup(), signup()
    token = google_token(providers, sub="shared", email="shared@example.com")
    assert first.client.post("/api/v1/auth/me/identities/google", {"id_token": token}, format="json").status_code == 201
    taken = second.client.post("/api/v1/auth/me/identities/google", {"id_token": token}, format="json")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "account_exists"
    assert LinkedIdentity.objects.get().user_id == first.id


def test_linking_refuses_forged_tokens_and_needs_a_session(project, providers, user):
    forged = google_token(providers, sub="x", aud="someone-else")
    assert user.client.post("/api/v1/auth/me/identities/google", {"id_token": forged}, format="json").status_code == 401
    anonymous = key_client(project.publishable).post(
        "/api/v1/auth/me/identities/google", {"id_token": google_token(providers)}, format="json"
    )
    assert anonymous.status_code == 401
    assert user.client.delete("/api/v1/auth/me/identities/myspace").status_code == 404
    assert user.client.delete("/api/v1/auth/me/identities/github").status_code == 404
    assert not LinkedIdentity.objects.exists()
    assert EndUser.objects.filter(project=project.project).count() == 1


def test_a_passkey_counts_as_a_way_in_and_the_last_one_stays(project, providers):
    from basalt.identity.models import Passkey

    signed = (
        key_client(project.publishable)
        .post(
            "/api/v1/auth/providers/google",
            {"id_token": google_token(providers, sub="pk-only", email="pk-only@example.com")},
            format="json",
        )
        .json()
    )
    client = bearer_client(project.publishable, signed["access_token"])
    # (the WebAuthn ceremony is tested in test_passkeys_browser.py; here only the row matters)
    passkey = Passkey.objects.create(
        project=project.project, user_id=signed["user"]["id"], credential_id="cred-1", public_key="AA"
    )
    assert [p["credential_id"] for p in client.get("/api/v1/auth/passkeys").json()["results"]] == ["cred-1"]
    assert client.delete("/api/v1/auth/me/identities/google").status_code == 204
    last = client.delete(f"/api/v1/auth/passkeys/{passkey.pk}")
    assert last.status_code == 409 and last.json()["error"]["code"] == "last_sign_in_method"
    assert client.delete("/api/v1/auth/passkeys/999999").status_code == 404
    assert client.delete("/api/v1/auth/passkeys/not-a-number").status_code == 404

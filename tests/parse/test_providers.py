"""authData with the providers Basalt verifies: log in with Google through Parse, link and unlink."""

from __future__ import annotations

import pytest

from tests.identity.provider_fixtures import google_token, providers, standin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_login_with_google_auth_data_then_link_to_anonymous(rest, providers):  # noqa: F811
    token = google_token(providers, sub="g-parse")
    signed = rest.post("users", {"authData": {"google": {"id": "g-parse", "id_token": token}}})
    assert signed.status_code in (200, 201), signed.content
    body = signed.json()
    assert body["sessionToken"].startswith("r:") and body["email"] == "ann@example.com"
    again = rest.post(
        "users", {"authData": {"google": {"id": "g-parse", "id_token": google_token(providers, sub="g-parse")}}}
    )
    assert again.json()["objectId"] == body["objectId"]
    forged = rest.post("users", {"authData": {"google": {"id": "x", "id_token": token + "x"}}})
    assert forged.status_code == 404 and forged.json()["code"] == 101
    assert rest.post("users", {"authData": {"facebook": {"id": "1", "access_token": "t"}}}).json()["code"] == 252

    anon = rest.post("users", {"authData": {"anonymous": {"id": "a-1"}}}).json()
    me = rest.as_user(anon["sessionToken"])
    linked = me.put(
        f"users/{anon['objectId']}",
        {"authData": {"google": {"id": "g-2", "id_token": google_token(providers, sub="g-2", email="b@example.com")}}},
    )
    assert linked.status_code == 200, linked.content
    taken = me.put(f"users/{anon['objectId']}", {"authData": {"google": {"id": "g-parse", "id_token": token}}})
    assert taken.json()["code"] in (208, 101)
    relogged = rest.post(
        "users",
        {"authData": {"google": {"id": "g-2", "id_token": google_token(providers, sub="g-2", email="b@example.com")}}},
    )
    assert relogged.json()["objectId"] == anon["objectId"]

"""Happy paths of API.md §4: sign-up, login, refresh, logout, anonymous, me, sessions."""

from __future__ import annotations

from .conftest import PASSWORD, bearer_client, key_client


def test_signup_returns_user_and_tokens(publishable_client, profile_fields):
    """Sign-up answers 201 with the user (no password) and a token pair."""
    response = publishable_client.post(
        "/api/v1/auth/signup", {"email": "Ann@Example.com", "password": PASSWORD, "nickname": "ann"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["email"] == "ann@example.com"
    assert body["user"]["nickname"] == "ann"
    assert body["user"]["email_verified"] is False
    assert "password" not in body["user"]
    assert body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    assert body["refresh_token"].startswith("rt_")
    assert response["Cache-Control"] == "no-store"


def test_login_by_email_and_username_then_me(project, signup):
    """A user logs in with email (any case) or username and reads itself with the token."""
    user = signup(username="Annie")
    client = key_client(project.publishable)
    by_email = client.post("/api/v1/auth/login", {"email": user.email.upper(), "password": PASSWORD}, format="json")
    assert by_email.status_code == 200, by_email.content
    by_name = client.post("/api/v1/auth/login", {"username": "annie", "password": PASSWORD}, format="json")
    assert by_name.status_code == 200
    me = bearer_client(project.publishable, by_name.json()["access_token"]).get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["id"] == user.id
    assert me.json()["username"] == "Annie"


def test_project_endpoint_sees_user(project, user):
    """The bearer resolver attaches the user to every data-API request."""
    response = user.client.get("/api/v1/project")
    assert response.status_code == 200
    assert response.json()["user_id"] == user.id


def _post(client, path, body=None):
    return client.post(path, body if body is not None else {}, format="json")


def test_refresh_rotates_and_old_refresh_is_spent(project, user):
    """A refresh gives a new pair; the new access token works; the old refresh token is spent."""
    client = key_client(project.publishable)
    first = _post(client, "/api/v1/auth/refresh", {"refresh_token": user.refresh})
    assert first.status_code == 200, first.content
    pair = first.json()
    assert pair["refresh_token"] != user.refresh
    assert bearer_client(project.publishable, pair["access_token"]).get("/api/v1/auth/me").status_code == 200
    second = _post(client, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200


def test_logout_refuses_the_same_access_token_on_the_next_request(project, user):
    """Logout revokes the session: its unexpired access token is refused at once, refresh too."""
    assert user.client.get("/api/v1/auth/me").status_code == 200
    assert _post(user.client, "/api/v1/auth/logout").status_code == 204
    after = user.client.get("/api/v1/auth/me")
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "invalid_token"
    refresh = _post(key_client(project.publishable), "/api/v1/auth/refresh", {"refresh_token": user.refresh})
    assert refresh.status_code == 401


def test_logout_without_token_is_unauthenticated(publishable_client):
    response = _post(publishable_client, "/api/v1/auth/logout")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_anonymous_user_upgrades_keeping_id_and_data(project, profile_fields):
    """An anonymous user adds email+password later; the id and custom fields survive."""
    client = key_client(project.publishable)
    anon = _post(client, "/api/v1/auth/anonymous")
    assert anon.status_code == 201
    body = anon.json()
    assert body["user"]["is_anonymous"] is True and body["user"]["email"] is None
    user_client = bearer_client(project.publishable, body["access_token"])
    assert user_client.patch("/api/v1/auth/me", {"score": 3}, format="json").status_code == 200
    half = user_client.patch("/api/v1/auth/me", {"email": "late@example.com"}, format="json")
    assert half.status_code == 400
    upgraded = user_client.patch("/api/v1/auth/me", {"email": "late@example.com", "password": PASSWORD}, format="json")
    assert upgraded.status_code == 200, upgraded.content
    assert upgraded.json()["id"] == body["user"]["id"]
    assert upgraded.json()["is_anonymous"] is False
    assert upgraded.json()["score"] == 3
    login = _post(client, "/api/v1/auth/login", {"email": "late@example.com", "password": PASSWORD})
    assert login.status_code == 200
    assert login.json()["user"]["id"] == body["user"]["id"]


def test_anonymous_can_be_switched_off(project, secret_client, console):
    from basalt.projects.project_settings import update_settings

    update_settings(project.project, {"auth": {"anonymous_enabled": False}})
    response = _post(key_client(project.publishable), "/api/v1/auth/anonymous")
    assert response.status_code == 403


def test_patch_me_custom_fields_and_null_removes(user, profile_fields):
    """Custom fields merge; null removes one; the response is the user."""
    assert user.client.patch("/api/v1/auth/me", {"bio": "hi", "age": 30}, format="json").status_code == 200
    response = user.client.patch("/api/v1/auth/me", {"bio": None}, format="json")
    assert response.status_code == 200
    assert "bio" not in response.json() and response.json()["age"] == 30


def test_changing_email_or_password_needs_current_password(project, user):
    """A stolen access token alone cannot take the account over by changing its credentials."""
    no_proof = user.client.patch("/api/v1/auth/me", {"email": "thief@example.com"}, format="json")
    assert no_proof.status_code == 400
    assert "current_password" in no_proof.json()["error"]["details"]
    ok = user.client.patch("/api/v1/auth/me", {"email": "new@example.com", "current_password": PASSWORD}, format="json")
    assert ok.status_code == 200
    assert ok.json()["email"] == "new@example.com" and ok.json()["email_verified"] is False


def test_password_change_revokes_other_sessions(project, user):
    """Changing the password keeps the current session and ends every other one."""
    other = _post(key_client(project.publishable), "/api/v1/auth/login", {"email": user.email, "password": PASSWORD})
    other_client = bearer_client(project.publishable, other.json()["access_token"])
    new = "An0ther-long-passphrase!"
    changed = user.client.patch("/api/v1/auth/me", {"password": new, "current_password": PASSWORD}, format="json")
    assert changed.status_code == 200
    assert user.client.get("/api/v1/auth/me").status_code == 200
    assert other_client.get("/api/v1/auth/me").status_code == 401
    login = _post(key_client(project.publishable), "/api/v1/auth/login", {"email": user.email, "password": new})
    assert login.status_code == 200


def test_sessions_list_and_revoke_own(project, user):
    """A user lists own sessions (current flagged) and revoking one ends it on the next request."""
    second = _post(key_client(project.publishable), "/api/v1/auth/login", {"email": user.email, "password": PASSWORD})
    second_client = bearer_client(project.publishable, second.json()["access_token"])
    listing = user.client.get("/api/v1/auth/sessions")
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert len(rows) == 2
    assert sum(row["current"] for row in rows) == 1
    other_id = next(row["id"] for row in rows if not row["current"])
    assert user.client.delete(f"/api/v1/auth/sessions/{other_id}").status_code == 204
    assert second_client.get("/api/v1/auth/me").status_code == 401
    assert user.client.get("/api/v1/auth/me").status_code == 200


def test_cannot_revoke_or_see_someone_elses_session(project, signup):
    """Session rows of another user are not found (T6: sessions written by others)."""
    alice, bob = signup(), signup()
    bob_session = bob.body["session_id"]
    response = alice.client.delete(f"/api/v1/auth/sessions/{bob_session}")
    assert response.status_code == 404
    assert bob.client.get("/api/v1/auth/me").status_code == 200
    assert all(row["id"] != bob_session for row in alice.client.get("/api/v1/auth/sessions").json()["results"])


def test_jwks_lists_the_active_public_key(project, user):
    response = key_client(project.publishable).get("/api/v1/auth/jwks.json")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "OKP" and key["crv"] == "Ed25519" and key["alg"] == "EdDSA"
    assert "d" not in key  # never the private part


def test_jwks_needs_a_project_key(api):
    assert api.get("/api/v1/auth/jwks.json").status_code == 401


def test_unknown_provider_is_not_found_and_an_unconfigured_one_is_disabled(publishable_client):
    response = _post(publishable_client, "/api/v1/auth/providers/myspace", {"id_token": "x"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = _post(publishable_client, "/api/v1/auth/providers/google", {"id_token": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "provider_disabled"


def test_revocations_and_role_changes_are_published_after_commit(project, signup, django_capture_on_commit_callbacks):
    """Realtime subscribes to these to drop revoked sockets and re-resolve roles (T5)."""
    from basalt.identity import events

    seen = []
    events.subscribe(events.SessionsEnded, seen.append)
    events.subscribe(events.RolesChanged, seen.append)
    user = signup()
    with django_capture_on_commit_callbacks(execute=True):
        _post(user.client, "/api/v1/auth/logout")
    with django_capture_on_commit_callbacks(execute=True):
        key_client(project.secret).post("/api/v1/roles", {"name": "crew", "users": [user.id]}, format="json")
    ended = [e for e in seen if isinstance(e, events.SessionsEnded)]
    assert ended and ended[-1].session_ids == (user.body["session_id"],) and ended[-1].reason == "logout"
    assert any(isinstance(e, events.RolesChanged) and e.project_id == project.project.pk for e in seen)

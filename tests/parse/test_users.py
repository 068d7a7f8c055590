"""Users, sessions and ACLs through /parse/: sign-up, log-in, me, log-out in both faces, roles."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_signup_login_me_logout(rest):
    """Sign-up answers 201 with an opaque r: token; login, me and logout follow Parse."""
    created = rest.post("users", {"username": "cooldude6", "password": "p_n7!-e8x", "phone": "415-392-0202"})
    # A custom field on _User needs client class creation (off): refused with 119, nothing created.
    assert created.status_code == 400 and created.json()["code"] == 119
    created = rest.post("users", {"username": "cooldude6", "password": "p_n7!-e8x", "email": "c@example.com"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == {"objectId", "createdAt", "sessionToken"} and body["sessionToken"].startswith("r:")
    login = rest.get("login", {"username": "cooldude6", "password": "p_n7!-e8x"})
    assert login.status_code == 200, login.content
    user = login.json()
    assert user["objectId"] == body["objectId"] and user["username"] == "cooldude6"
    assert user["sessionToken"].startswith("r:") and user["sessionToken"] != body["sessionToken"]
    assert user["emailVerified"] is False and "password" not in user
    me = rest.as_user(user["sessionToken"]).get("users/me")
    assert me.status_code == 200 and me.json()["objectId"] == body["objectId"]
    assert me.json()["sessionToken"] == user["sessionToken"]
    assert rest.as_user(user["sessionToken"]).post("logout").json() == {}
    gone = rest.as_user(user["sessionToken"]).get("users/me")
    assert gone.status_code == 400 and gone.json() == {"code": 209, "error": "Invalid session token"}
    # The other session still works.
    assert rest.as_user(body["sessionToken"]).get("users/me").status_code == 200


def test_signup_and_login_errors(rest):
    """200/201 missing username/password, 202 taken, 101 wrong password."""
    assert rest.post("users", {"password": "x" * 12}).json()["code"] == 200
    assert rest.post("users", {"username": "bob"}).json()["code"] == 201
    assert rest.post("users", {"username": "bobby", "password": "correct horse battery"}).status_code == 201
    taken = rest.post("users", {"username": "bobby", "password": "correct horse battery"})
    assert taken.status_code == 400 and taken.json()["code"] == 202
    wrong = rest.post("login", {"username": "bobby", "password": "wrong password here"})
    assert wrong.status_code == 404 and wrong.json() == {"code": 101, "error": "Invalid username/password."}
    unknown = rest.post("login", {"username": "nobody", "password": "wrong password here"})
    assert unknown.json() == wrong.json()
    assert rest.post("requestPasswordReset", {}).json()["code"] == 204
    assert rest.post("requestPasswordReset", {"email": "nobody@example.com"}).json() == {}


def test_verify_password_opens_no_session(rest, signed_up):
    """verifyPassword returns the user without a session token and leaves no session behind."""
    alice = signed_up("alice")
    before = len(alice.get("sessions").json()["results"])
    checked = rest.get("verifyPassword", {"username": "alice", "password": "correct horse battery"})
    assert checked.status_code == 200 and "sessionToken" not in checked.json()
    assert len(alice.get("sessions").json()["results"]) == before


def test_logout_in_native_face_ends_parse_token(project, rest):
    """A session is one session in both faces: revoking it natively ends the r: token."""
    from rest_framework.test import APIClient

    created = rest.post("users", {"username": "dora", "password": "correct horse battery"}).json()
    # Used once first, so this process has resolved (and cached) the token before the revocation.
    assert rest.as_user(created["sessionToken"]).get("users/me").status_code == 200
    native = APIClient()
    native.credentials(HTTP_X_API_KEY=project.publishable)
    login = native.post(
        "/api/v1/auth/login", {"username": "dora", "password": "correct horse battery"}, format="json"
    ).json()
    native.credentials(HTTP_X_API_KEY=project.publishable, HTTP_AUTHORIZATION=f"Bearer {login['access_token']}")
    sessions = native.get("/api/v1/auth/sessions").json()
    parse_session = next(
        s for s in (sessions["results"] if isinstance(sessions, dict) else sessions) if not s["current"]
    )
    assert native.delete(f"/api/v1/auth/sessions/{parse_session['id']}").status_code == 204
    assert rest.as_user(created["sessionToken"]).get("users/me").json()["code"] == 209


def test_token_resolution_is_cached_under_the_caller_epoch(project, rest, signed_up, django_assert_num_queries):
    """A resolved r: token costs no query on the next request (as a native bearer token), while a
    role granted or the session revoked in between shows on the very next request."""
    from basalt.parse import request as parse_request
    from basalt.parse import sessions

    alice = signed_up("erin")
    sessions.forget_resolved()
    creds = {"app": project.project.ref, "client": project.publishable}
    key_caller = parse_request.authenticate(creds)
    with django_assert_num_queries(2):
        first = sessions.resolve(key_caller, alice.token)
    assert first.user_id == alice.user_id and first.roles == frozenset()
    key_caller = parse_request.authenticate(creds)  # the key lookup reads the project's epoch
    with django_assert_num_queries(0):
        assert sessions.resolve(key_caller, alice.token) == first
    master = rest.as_user(None)
    master.headers = {"HTTP_X_PARSE_APPLICATION_ID": project.project.ref, "HTTP_X_PARSE_MASTER_KEY": project.secret}
    role = master.post(
        "roles",
        {
            "name": "mods",
            "ACL": {"*": {"read": True}},
            "users": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "_User", "objectId": alice.user_id}],
            },
        },
    )
    assert role.status_code == 201, role.content
    assert sessions.resolve(parse_request.authenticate(creds), alice.token).roles == frozenset({"mods"})
    assert alice.post("logout").json() == {}
    with pytest.raises(sessions.ParseError):
        sessions.resolve(parse_request.authenticate(creds), alice.token)


def test_token_is_stored_hashed(rest, signed_up):
    """Only a hash of the r: token is stored."""
    from basalt.parse.models import ParseSessionToken

    alice = signed_up("alice2")
    assert not ParseSessionToken.objects.filter(token_hash=alice.token).exists()
    assert ParseSessionToken.objects.count() == 1


def test_sessions_routes(signed_up):
    alice = signed_up("carol")
    me = alice.get("sessions/me").json()
    assert me["sessionToken"] == alice.token and me["user"]["objectId"] == alice.user_id
    listed = alice.get("sessions").json()["results"]
    assert [s["objectId"] for s in listed] == [me["objectId"]]
    assert alice.delete(f"sessions/{me['objectId']}").json() == {}
    assert alice.get("users/me").json()["code"] == 209


def test_anonymous_auth_data(rest):
    """authData.anonymous signs up an anonymous user with a session."""
    response = rest.post("users", {"authData": {"anonymous": {"id": "6b9a3e51-0bd2-4a55-a1f6-6c2ad7c0ef11"}}})
    assert response.status_code == 201, response.content
    token = response.json()["sessionToken"]
    me = rest.as_user(token).get("users/me").json()
    assert me["authData"] == {"anonymous": {"id": response.json()["objectId"]}}
    unsupported = rest.post("users", {"authData": {"facebook": {"id": "1"}}})
    assert unsupported.json()["code"] == 252


def test_acls_with_users_and_roles(master, rest, signed_up):
    """User and role: ACL keys decide reads; an unreadable object is 101, like a missing one."""
    alice, bob = signed_up("alice3"), signed_up("bob3")
    master.post("schemas/Secret", {"className": "Secret", "fields": {"text": {"type": "String"}}})
    private = alice.post(
        "classes/Secret", {"text": "mine", "ACL": {alice.user_id: {"read": True, "write": True}}}
    ).json()["objectId"]
    assert alice.get(f"classes/Secret/{private}").json()["text"] == "mine"
    hidden = bob.get(f"classes/Secret/{private}")
    assert hidden.status_code == 404 and hidden.json()["code"] == 101
    assert bob.get("classes/Secret").json()["results"] == []
    assert bob.put(f"classes/Secret/{private}", {"text": "x"}).json()["code"] == 101
    role = master.post(
        "roles",
        {
            "name": "Moderators",
            "ACL": {"*": {"read": True}},
            "users": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "_User", "objectId": bob.user_id}],
            },
        },
    )
    assert role.status_code == 201, role.content
    shared = alice.post(
        "classes/Secret",
        {"text": "mods", "ACL": {alice.user_id: {"read": True, "write": True}, "role:Moderators": {"read": True}}},
    ).json()["objectId"]
    assert bob.get(f"classes/Secret/{shared}").json()["ACL"]["role:Moderators"] == {"read": True}
    roles = rest.get("roles", {"where": {"name": "Moderators"}}).json()["results"]
    assert [r["name"] for r in roles] == ["Moderators"]
    assert roles[0]["users"] == {"__type": "Relation", "className": "_User"}
    members = alice.get(
        "users",
        {
            "where": {
                "$relatedTo": {
                    "object": {"__type": "Pointer", "className": "_Role", "objectId": role.json()["objectId"]},
                    "key": "users",
                }
            }
        },
    ).json()
    assert [u["objectId"] for u in members["results"]] == [bob.user_id]
    master.put(
        f"roles/{role.json()['objectId']}",
        {
            "users": {
                "__op": "RemoveRelation",
                "objects": [{"__type": "Pointer", "className": "_User", "objectId": bob.user_id}],
            }
        },
    )
    assert bob.get(f"classes/Secret/{shared}").json()["code"] == 101


def test_client_class_creation_setting(project, rest):
    """Off by default; when the project allows it, a client write creates the class and fields."""
    from basalt.projects.project_settings import update_settings

    assert rest.post("classes/Diary", {"text": "x"}).json()["code"] == 119
    update_settings(project.project, {"parse": {"allow_client_class_creation": True}})
    created = rest.post("classes/Diary", {"text": "x"})
    assert created.status_code == 201, created.content
    added = rest.put(f"classes/Diary/{created.json()['objectId']}", {"mood": 3})
    assert added.status_code == 200, added.content
    wrong = rest.put(f"classes/Diary/{created.json()['objectId']}", {"mood": "happy"})
    assert wrong.status_code == 400 and wrong.json()["code"] == 111

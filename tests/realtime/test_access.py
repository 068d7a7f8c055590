"""Per-subscriber access (SECURITY.md T4) and revocation (T5) over a real WebSocket."""

from __future__ import annotations

import asyncio

import pytest

from .conftest import connect, run

pytestmark = pytest.mark.live

NOTES = {
    "name": "notes",
    "fields": {"title": {"type": "string"}, "internal": {"type": "string"}, "n": {"type": "number"}},
    "permissions": {"get": ["*"], "find": ["*"], "create": ["*"], "update": ["*"], "delete": ["*"]},
    # Hidden from everyone but staff (a more specific entry reveals what `*` hides).
    "protected_fields": {"*": ["internal"], "role:staff": []},
    "default_acl": "public",
}


def _callers(app):
    alice, bob, carol = app.signup(), app.signup(), app.signup()
    app.ok("POST", "/roles", {"name": "staff", "users": [carol["user"]["id"]]}, 201, key=app.sk)
    return alice, bob, carol


def test_each_subscriber_gets_exactly_what_rest_get_returns(app):
    """Anonymous, two users, a staff member and the secret key: same documents and fields as REST GET (T4)."""
    app.collection(NOTES)
    alice, bob, carol = _callers(app)
    a, b = alice["user"]["id"], bob["user"]["id"]
    acls = [
        {"*": {"read": True}},
        {a: {"read": True}},
        {b: {"read": True}, a: {"read": True}},
        {"role:staff": {"read": True}},
        {"authenticated": {"read": True}},
        {},
    ]
    subscribers = {
        "anonymous": (app.pk, None),
        "alice": (app.pk, alice),
        "bob": (app.pk, bob),
        "carol": (app.pk, carol),
        "secret": (app.sk, None),
    }

    async def scenario():
        clients = {}
        for name, (key, user) in subscribers.items():
            client = await connect(app.ws_url(key)).__aenter__()
            if user:
                await client.send({"op": "auth", "access_token": user["access_token"]})
                await client.expect("authenticated")
            assert (await client.subscribe("s", "notes"))["op"] == "subscribed"
            clients[name] = client
        try:
            ids = []
            for i, acl in enumerate(acls):
                ids.append(
                    app.ok(
                        "POST",
                        "/collections/notes/documents",
                        {"title": f"t{i}", "internal": "x", "n": i, "acl": acl},
                        201,
                        key=app.sk,
                    )["id"]
                )
            for name, (key, user) in subscribers.items():
                token = user["access_token"] if user else None
                expected = {}
                for doc_id in ids:
                    response = app.call("GET", f"/collections/notes/documents/{doc_id}", key=key, token=token)
                    if response.status_code == 200:
                        expected[doc_id] = response.json()
                    else:
                        assert response.status_code == 404
                got = {}
                for _ in expected:
                    event = await clients[name].expect("event", id="s")
                    got[event["document"]["id"]] = event["document"]
                assert got == expected, name
                assert [m for m in await clients[name].quiet(0.5) if m.get("op") == "event"] == [], name
            # Alice loses read access: she is told the document left, without its new contents.
            app.ok(
                "PATCH",
                f"/collections/notes/documents/{ids[1]}",
                {"title": "new", "acl": {b: {"read": True}}},
                key=app.sk,
            )
            leave = await clients["alice"].expect("event", id="s")
            assert leave["type"] == "leave" and leave["document"] == {"id": ids[1]}
            enter = await clients["bob"].expect("event", id="s")
            assert enter["type"] == "enter" and enter["document"]["title"] == "new"
        finally:
            for client in clients.values():
                await client.ws.close()

    run(scenario())


def _revocations(app):
    """Each way a user's access ends, as a function of (user, role name)."""

    def logout(user):
        assert app.call("POST", "/auth/logout", token=user["access_token"]).status_code == 204

    def revoke_session(user):
        sessions = app.ok("GET", "/auth/sessions", token=user["access_token"])["results"]
        for session in sessions:
            app.call("DELETE", f"/auth/sessions/{session['id']}", token=user["access_token"])

    def disable(user):
        app.ok("PATCH", f"/auth/users/{user['user']['id']}", {"disabled": True}, key=app.sk)

    def delete(user):
        assert app.call("DELETE", f"/auth/users/{user['user']['id']}", key=app.sk).status_code == 204

    def remove_role(user):
        assert app.call("DELETE", f"/roles/staff/users/{user['user']['id']}", key=app.sk).status_code == 204

    return {
        "logout": logout,
        "session_revoked": revoke_session,
        "disabled": disable,
        "deleted": delete,
        "role_removed": remove_role,
    }


@pytest.mark.parametrize("how", ["logout", "session_revoked", "disabled", "deleted", "role_removed"])
def test_revocation_stops_payloads_within_a_second(app, how):
    """After logout, session revocation, disabling, deletion or role removal, no payload it granted is sent (T5)."""
    app.collection(NOTES)
    user = app.signup()
    app.ok("POST", "/roles", {"name": "staff", "users": [user["user"]["id"]]}, 201, key=app.sk)
    acl = {"role:staff": {"read": True}} if how == "role_removed" else {user["user"]["id"]: {"read": True}}

    async def scenario():
        async with connect(app.ws_url()) as client:
            await client.send({"op": "auth", "access_token": user["access_token"]})
            await client.expect("authenticated")
            await client.subscribe("s", "notes")
            app.ok("POST", "/collections/notes/documents", {"title": "before", "acl": acl}, 201, key=app.sk)
            assert (await client.expect("event", id="s"))["document"]["title"] == "before"
            _revocations(app)[how](user)
            await asyncio.sleep(1.0)
            app.ok(
                "POST", "/collections/notes/documents", {"title": "after", "internal": "x", "acl": acl}, 201, key=app.sk
            )
            if how != "role_removed":
                # The connection is told its session ended (wait for it: the host may be loaded) ...
                await client.expect("error")
            later = await client.quiet(2.0)
            # ... and no payload that the revoked access granted arrived, before or after that.
            assert not [m for m in client.seen if m.get("op") == "event" and m["document"].get("title") == "after"]
            # Losing visibility of "before" may yield its `leave`, with the id only (T4).
            assert not [m for m in later if m.get("op") == "event" and set(m["document"]) != {"id"}], later
            assert not [m for m in later if m.get("op") == "event" and m["type"] != "leave"], later

    run(scenario())


def _shrink_principals(app, user):
    """Each way a connection's principal set loses `role:staff` while its session stays valid."""
    uid = user["user"]["id"]

    def member_removed():
        assert app.call("DELETE", f"/roles/staff/users/{uid}", key=app.sk).status_code == 204

    def role_deleted():
        assert app.call("DELETE", "/roles/staff", key=app.sk).status_code == 204

    def inheritance_removed():
        assert app.call("DELETE", "/roles/staff/roles/seniors", key=app.sk).status_code == 204

    return {"member_removed": member_removed, "role_deleted": role_deleted, "inheritance_removed": inheritance_removed}


@pytest.mark.parametrize("how", ["member_removed", "role_deleted", "inheritance_removed", "logout"])
def test_losing_a_role_sends_leave_for_documents_no_longer_visible(app, how):
    """A shrinking principal set yields `leave` (id only) for what it could see, with no write to carry it (T4/T5)."""
    app.collection(NOTES)
    user = app.signup()
    uid = user["user"]["id"]
    if how == "inheritance_removed":
        # Members of `seniors` inherit `staff`; the user holds staff only through that link.
        app.ok("POST", "/roles", {"name": "seniors", "users": [uid]}, 201, key=app.sk)
        app.ok("POST", "/roles", {"name": "staff"}, 201, key=app.sk)
        app.ok("POST", "/roles/staff/roles", {"names": ["seniors"]}, 200, key=app.sk)
    else:
        app.ok("POST", "/roles", {"name": "staff", "users": [uid]}, 201, key=app.sk)
    staff_only = {"role:staff": {"read": True}}
    if how == "logout":
        staff_only = {uid: {"read": True}}

    async def scenario():
        async with connect(app.ws_url()) as client:
            await client.send({"op": "auth", "access_token": user["access_token"]})
            await client.expect("authenticated")
            await client.subscribe("s", "notes")
            hidden = app.ok("POST", "/collections/notes/documents", {"title": "h", "acl": staff_only}, 201, key=app.sk)
            public = app.ok("POST", "/collections/notes/documents", {"title": "p"}, 201, key=app.sk)
            assert (await client.expect("event", id="s"))["document"]["id"] == hidden["id"]
            assert (await client.expect("event", id="s"))["document"]["id"] == public["id"]
            if how == "logout":
                _revocations(app)["logout"](user)
            else:
                _shrink_principals(app, user)[how]()
            left = await client.expect("event", id="s")
            assert left["type"] == "leave"
            assert left["document"] == {"id": hidden["id"]}  # only the id, never contents
            later = await client.quiet(2.0)
            # The document still visible is not withdrawn.
            assert not [m for m in later if m.get("op") == "event"], later

    run(scenario())


def test_revoked_key_closes_the_connection(app):
    """A revoked publishable key gets invalid_api_key and the socket is closed; nothing more is sent."""
    app.collection(NOTES)

    async def scenario():
        async with connect(app.ws_url()) as client:
            await client.subscribe("s", "notes")
            assert app.manage("DELETE", f"/keys/{app.project.key_ids['publishable']}").status_code == 204
            await asyncio.sleep(1.0)
            app.ok("POST", "/collections/notes/documents", {"title": "after"}, 201, key=app.sk)
            error = await client.expect("error")
            assert error["error"]["code"] == "invalid_api_key"
            assert not [m for m in await client.quiet(1.0) if m.get("op") == "event"]
            assert client.ws.close_code == 4001

    run(scenario())

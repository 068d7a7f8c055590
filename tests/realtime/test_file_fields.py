"""`file` fields in realtime payloads read exactly as a REST GET by the same subscriber renders them
(T4): {id, name, url, content_type, size} to who may read the file, the id alone to anyone else.

Live events, `since` replays and snapshots all go through the same rendering."""

from __future__ import annotations

import pytest

from .conftest import OPEN, connect, run

pytestmark = pytest.mark.live

POSTS = {
    "name": "posts",
    "fields": {"title": {"type": "string"}, "cover": {"type": "file"}},
    "permissions": OPEN,
    "default_acl": "public",
}


def _upload(app, data: bytes, name: str, token: str | None = None, acl: str | None = None) -> dict:
    headers = {"Content-Type": "text/plain"}
    query = f"?name={name}" + (f"&acl={acl}" if acl else "")
    with app.http(app.pk if token else app.sk, token) as client:
        answer = client.post(f"/api/v1/files{query}", content=data, headers=headers)
    assert answer.status_code == 201, answer.text[:400]
    return answer.json()


def _rest(app, doc_id: str, key: str, token: str | None) -> dict:
    answer = app.call("GET", f"/collections/posts/documents/{doc_id}", key=key, token=token)
    assert answer.status_code == 200, answer.text[:400]
    return answer.json()


def test_file_fields_in_events_match_rest_per_subscriber(app):
    app.collection(POSTS)
    alice, bob = app.signup(), app.signup()
    # Alice's file has the owner ACL: she (and the secret key) may read it, bob and anonymous may not.
    private = _upload(app, b"alice's cover", "a.txt", token=alice["access_token"])
    public = _upload(app, b"everyone's cover", "p.txt", acl='{"*":{"read":true}}')
    subscribers = {
        "anonymous": (app.pk, None),
        "alice": (app.pk, alice["access_token"]),
        "bob": (app.pk, bob["access_token"]),
        "secret": (app.sk, None),
    }

    async def scenario():
        clients = {}
        try:
            for name, (key, token) in subscribers.items():
                client = await connect(app.ws_url(key)).__aenter__()
                if token:
                    await client.send({"op": "auth", "access_token": token})
                    await client.expect("authenticated")
                assert (await client.subscribe("s", "posts"))["op"] == "subscribed"
                clients[name] = client
            doc = app.ok(
                "POST", "/collections/posts/documents", {"title": "t", "cover": private["id"]}, 201, key=app.sk
            )
            app.ok("PATCH", f"/collections/posts/documents/{doc['id']}", {"cover": public["id"]}, key=app.sk)
            for name, (key, token) in subscribers.items():
                created, updated = await clients[name].events("s", 2)
                assert created["type"] == "create" and updated["type"] == "update", name
                # The update's payload is the document as REST shows it now.
                assert updated["document"] == _rest(app, doc["id"], key, token), name
                assert isinstance(updated["document"]["cover"], dict), name  # a public file: all see it
                expected_private = (
                    private["id"]
                    if name in ("anonymous", "bob")
                    else {k: private[k] for k in ("id", "name", "url", "content_type", "size")}
                )
                assert created["document"]["cover"] == expected_private, name
            return doc, created["seq"]
        finally:
            for client in clients.values():
                await client.ws.close()

    doc, first_seq = run(scenario())
    # Put the private file back: replays (`since`) and snapshots render it per caller too.
    app.ok("PATCH", f"/collections/posts/documents/{doc['id']}", {"cover": private["id"]}, key=app.sk)

    async def replay_and_snapshot():
        for name, (key, token) in subscribers.items():
            expected = _rest(app, doc["id"], key, token)
            async with connect(app.ws_url(key)) as client:
                if token:
                    await client.send({"op": "auth", "access_token": token})
                    await client.expect("authenticated")
                await client.subscribe("r", "posts", since=first_seq)
                replayed = await client.events("r", 2)
                assert replayed[-1]["document"] == expected, name
                assert (await client.subscribe("n", "posts", snapshot=True))["op"] == "subscribed"
                snapshot = await client.expect("snapshot", id="n")
                assert snapshot["documents"] == [expected], name

    run(replay_and_snapshot())
    assert _rest(app, doc["id"], app.pk, bob["access_token"])["cover"] == private["id"]
    assert _rest(app, doc["id"], app.pk, alice["access_token"])["cover"]["name"] == "a.txt"

"""The same workload through the Parse face (/parse/) and the native face (/api/v1): CPU per operation.

In-process (Django's test client, no sockets), on a throw-away embedded database (SQLite in a temp
folder, or DATABASE_URL if set): create, get, query, update, delete and a 10-request batch, each
run N times through each face, then the shared anchor workload's shapes (../shared/anchors/parse/
workload.py, as its Parse and native adapters send them) on a `posts` collection: a create with an
ACL, a Pointer and tags (`create_acl`), score > X order -score limit 20 (`top20`), tags `$in`
limit 20 (`tags_in`; natively the `$or` of `$contains` the native adapter sends), a count without
`where` (`count_all`) and a batch of 50 such creates (`batch50`, N/25 of them, in turns of
`--block`/5). Within each kind of operation the faces take turns in blocks of `--block`
operations (the first face alternating per block and per round), each face's CPU summed over its
blocks, so drift (the table growing, SQLite checkpoints, a collection of the garbage Django's test
client leaves, one weakref finalizer per request) hits both faces alike instead of whichever ran
that phase; the heap is collected and frozen before each phase (`gc.freeze()`, as a pre-forking
server freezes its start-up heap) so a full collection does not rescan it. CPU is `time.process_time()` of
this process, which holds the server side and an identical client side for both faces, so the
ratio under-states the face's relative cost a little, never over-states it.
LiveQuery is not in this workload (its cost is the realtime engine's, shared by both protocols;
bench/parse_peer.py measures it against Parse Server's). `--as-user` sends every request as a
signed-in user (publishable key + bearer token natively, REST key + r: session token through
/parse), the shape of the shared anchor workload, instead of the secret (master) key.

    python bench/parse_face.py --ops 300 --rounds 3 [--as-user] [--block 10] [--only batch50 --only tags_in] [--wsgi]

`--wsgi` calls Django's WSGI application with a prebuilt environ instead of the test client, so
the client's share of the CPU is nearly nil and the ratio is close to the servers' own.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("BASALT_DATA_DIR", tempfile.mkdtemp(prefix="basalt-parse-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
    os.environ.setdefault("LOG_LEVEL", "ERROR")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _wsgi_client(**headers: str) -> Any:
    """Django's test client's calls used here, straight into the WSGI application with a prebuilt
    environ (as granian calls it, profile_request.py's client): none of the test client's request
    building, signals or response bookkeeping, so the CPU measured is close to a server worker's."""
    from urllib.parse import urlencode

    from profile_request import _WsgiClient  # bench/, this script's folder

    class WsgiClient(_WsgiClient):
        def __init__(self) -> None:
            super().__init__("", "")
            self._headers = headers
            self.defaults = headers

        def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
            return self._call("GET", path, urlencode(params or {}))

        def post(self, path: str, data: Any, content_type: str = "application/json") -> Any:
            return self._call("POST", path, body=json.dumps(data).encode())

        def put(self, path: str, data: Any, content_type: str = "application/json") -> Any:
            return self._call("PUT", path, body=json.dumps(data).encode())

        def patch(self, path: str, data: Any, content_type: str = "application/json") -> Any:
            return self._call("PATCH", path, body=json.dumps(data).encode())

        def delete(self, path: str) -> Any:
            return self._call("DELETE", path)

    return WsgiClient()


def _client(**headers: str) -> Any:
    if USE_WSGI:
        return _wsgi_client(**headers)
    from django.test import Client

    return Client(**headers)


USE_WSGI = False


class Face:
    """The calls both faces spell alike (the same query parameters); the rest is per face."""

    http: Any
    base: str

    def get(self, oid: str) -> None:
        assert self.http.get(f"{self.base}/{oid}").status_code == 200

    def query(self, n: int) -> None:
        where = json.dumps({"score": {"$gte": n % 50}})
        r = self.http.get(self.base, {"where": where, "order": "-score", "limit": 10})
        assert r.status_code == 200, r.content

    # The anchor workload's shapes (`posts`, its `author` and `_post_body` are per face).
    def create_acl(self, n: int) -> None:
        r = self.http.post(self.posts, self._post_body(n), content_type="application/json")
        assert r.status_code == 201, r.content

    def top20(self, n: int) -> None:
        where = json.dumps({"score": {"$gt": (n * 37) % 900}})
        assert self.http.get(self.posts, {"where": where, "order": "-score", "limit": 20}).status_code == 200


TAGS = ["news", "tech", "sport", "music", "art", "food", "travel", "games", "science", "health"]


def _post(n: int) -> dict[str, Any]:
    return {"title": f"post {n:012d}", "score": (n * 7919) % 1000, "tags": [TAGS[n % 10], TAGS[(n * 3 + 1) % 10]]}


class Native(Face):
    name = "api_v1"
    posts = "/api/v1/collections/posts/documents"
    author = ""  # the signed-in user's id, the posts' author and owner

    def __init__(self, secret: str, bearer: str | None = None):
        self.http = _client(HTTP_X_API_KEY=secret, **({"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}))
        self.base = "/api/v1/collections/scores/documents"

    def create(self, n: int) -> str:
        r = self.http.post(self.base, {"player_name": f"p{n}", "score": n}, content_type="application/json")
        assert r.status_code == 201, r.content
        return r.json()["id"]

    def update(self, oid: str) -> None:
        body = {"score": {"__op": "increment", "by": 1}}
        assert self.http.patch(f"{self.base}/{oid}", body, content_type="application/json").status_code == 200

    def delete(self, oid: str) -> None:
        assert self.http.delete(f"{self.base}/{oid}").status_code == 204

    def batch(self, n: int) -> None:
        requests = [
            {"method": "POST", "path": "/api/v1/collections/scores/documents", "body": {"score": n + i}}
            for i in range(10)
        ]
        r = self.http.post("/api/v1/batch", {"requests": requests}, content_type="application/json")
        assert r.status_code == 200, r.content

    def _post_body(self, n: int) -> dict[str, Any]:
        acl = {self.author: {"read": True, "write": True}, "*": {"read": True}}
        return {**_post(n), "author": self.author, "acl": acl}

    def tags_in(self, n: int) -> None:
        where = json.dumps({"$or": [{"tags": {"$contains": t}} for t in (TAGS[n % 10], TAGS[(n + 3) % 10])]})
        assert self.http.get(self.posts, {"where": where, "limit": 20}).status_code == 200

    def count_all(self, n: int) -> None:
        assert self.http.get(self.posts, {"where": "{}", "count": "true", "limit": 1}).status_code == 200

    def batch50(self, n: int) -> None:
        requests = [
            {"method": "POST", "path": "/collections/posts/documents", "body": self._post_body(n * 50 + i)}
            for i in range(50)
        ]
        r = self.http.post("/api/v1/batch", {"requests": requests}, content_type="application/json")
        assert r.status_code == 200 and all(x["status"] == 201 for x in r.json()["results"]), r.content


class ParseFace(Face):
    name = "parse"
    posts = "/parse/classes/Posts"
    author = ""

    def __init__(self, ref: str, secret: str, session: str | None = None):
        if session:  # `secret` is then the publishable key, sent as Parse's REST API key
            self.http = _client(
                HTTP_X_PARSE_APPLICATION_ID=ref, HTTP_X_PARSE_REST_API_KEY=secret, HTTP_X_PARSE_SESSION_TOKEN=session
            )
        else:
            self.http = _client(HTTP_X_PARSE_APPLICATION_ID=ref, HTTP_X_PARSE_MASTER_KEY=secret)
        self.base = "/parse/classes/Scores"

    def create(self, n: int) -> str:
        r = self.http.post(self.base, {"playerName": f"p{n}", "score": n}, content_type="application/json")
        assert r.status_code == 201, r.content
        return r.json()["objectId"]

    def update(self, oid: str) -> None:
        body = {"score": {"__op": "Increment", "amount": 1}}
        assert self.http.put(f"{self.base}/{oid}", body, content_type="application/json").status_code == 200

    def delete(self, oid: str) -> None:
        assert self.http.delete(f"{self.base}/{oid}").status_code == 200

    def batch(self, n: int) -> None:
        requests = [{"method": "POST", "path": "/parse/classes/Scores", "body": {"score": n + i}} for i in range(10)]
        r = self.http.post("/parse/batch", {"requests": requests}, content_type="application/json")
        assert r.status_code == 200, r.content

    def _post_body(self, n: int) -> dict[str, Any]:
        acl = {self.author: {"read": True, "write": True}, "*": {"read": True}}
        pointer = {"__type": "Pointer", "className": "_User", "objectId": self.author}
        return {**_post(n), "author": pointer, "ACL": acl}

    def tags_in(self, n: int) -> None:
        where = json.dumps({"tags": {"$in": [TAGS[n % 10], TAGS[(n + 3) % 10]]}})
        assert self.http.get(self.posts, {"where": where, "limit": 20}).status_code == 200

    def count_all(self, n: int) -> None:
        assert self.http.get(self.posts, {"where": "{}", "count": "1", "limit": 0}).status_code == 200

    def batch50(self, n: int) -> None:
        requests = [
            {"method": "POST", "path": "/parse/classes/Posts", "body": self._post_body(n * 50 + i)} for i in range(50)
        ]
        r = self.http.post("/parse/batch", {"requests": requests}, content_type="application/json")
        assert r.status_code == 200 and all("success" in x for x in r.json()), r.content


def _user_faces(project, publishable: str, secret: str, as_user: bool) -> list:
    """Both faces as one signed-in user (signed up natively, logged in through /parse for an r: token),
    or with the secret key; the user is the anchor-shaped posts' author and owner either way."""
    from django.test import Client

    password = "benchmark-password-1"
    signup = Client(HTTP_X_API_KEY=publishable).post(
        "/api/v1/auth/signup", {"username": "bencher", "password": password}, content_type="application/json"
    )
    assert signup.status_code == 201, signup.content
    login = Client(HTTP_X_PARSE_APPLICATION_ID=project.ref, HTTP_X_PARSE_REST_API_KEY=publishable).get(
        "/parse/login", {"username": "bencher", "password": password}
    )
    assert login.status_code == 200, login.content
    if as_user:
        faces = [
            Native(publishable, bearer=signup.json()["access_token"]),
            ParseFace(project.ref, publishable, session=login.json()["sessionToken"]),
        ]
    else:
        faces = [Native(secret), ParseFace(project.ref, secret)]
    for face in faces:
        face.author = login.json()["objectId"]
    return faces


PHASES = (
    *("create", "get", "update", "query", "delete", "batch10"),
    *("create_acl", "top20", "tags_in", "count_all", "batch50"),  # the anchor workload's shapes
)


def _measure(faces: list, ops: int, block: int, first: int = 0, only=PHASES) -> dict[str, dict[str, float]]:
    """CPU microseconds per operation, per face and kind of operation, the faces taking turns."""
    ids: dict[str, list[str]] = {face.name: [] for face in faces}
    out: dict[str, dict[str, float]] = {face.name: {} for face in faces}

    def phase(kind: str, count: int, work, block: int = block) -> None:
        if kind not in only:
            return
        # What the test client leaves behind (one weakref finalizer per request) is collected and
        # frozen between phases, so a full collection in a phase scans only that phase's objects.
        gc.collect()
        gc.freeze()
        spent = dict.fromkeys(ids, 0.0)
        for turn, start in enumerate(range(0, count, block)):
            for face in faces if (turn + first) % 2 == 0 else reversed(faces):
                started = time.process_time()
                for n in range(start, min(start + block, count)):
                    work(face, n)
                spent[face.name] += time.process_time() - started
        for name, seconds in spent.items():
            out[name][kind] = seconds / count * 1e6

    if {"get", "update", "delete"} & set(only):
        only = (*only, "create")  # they need its objects
    phase("create", ops, lambda face, n: ids[face.name].append(face.create(n)))
    phase("get", ops, lambda face, n: face.get(ids[face.name][n]))
    phase("update", ops, lambda face, n: face.update(ids[face.name][n]))
    phase("query", ops, lambda face, n: face.query(n))
    phase("delete", ops, lambda face, n: face.delete(ids[face.name][n]))
    phase("batch10", max(1, ops // 10), lambda face, n: face.batch(n))
    phase("create_acl", ops, lambda face, n: face.create_acl(n))
    phase("top20", ops, lambda face, n: face.top20(n))
    phase("tags_in", ops, lambda face, n: face.tags_in(n))
    phase("count_all", ops, lambda face, n: face.count_all(n))
    phase("batch50", max(2, ops // 25), lambda face, n: face.batch50(n), block=max(1, block // 5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300, help="operations of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--as-user", action="store_true", help="signed-in user instead of the secret key")
    parser.add_argument("--block", type=int, default=10, help="operations per turn of one face (batch50: a fifth)")
    parser.add_argument("--only", action="append", choices=PHASES, help="measure only these phases")
    parser.add_argument("--wsgi", action="store_true", help="call the WSGI application, not the test client")
    args = parser.parse_args()
    global USE_WSGI
    USE_WSGI = args.wsgi
    _setup()
    from django.conf import settings

    from basalt.accounts.models import Account
    from basalt.documents import catalog
    from basalt.projects import services

    owner = Account.objects.create_user(f"bench{time.time_ns()}@example.com", "benchmark-password-1")
    project = services.create_project(owner, "parse face bench")
    secret = services.create_key(owner, project, "secret").raw
    catalog.create_collection(
        project,
        {
            "name": "scores",
            "fields": {"player_name": {"type": "string"}, "score": {"type": "number"}},
            "indexes": [{"fields": ["score"]}],
            "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
            "default_acl": "public",
        },
    )
    catalog.create_collection(  # the anchor workload's Post, with the indexes both adapters declare
        project,
        {
            "name": "posts",
            "fields": {
                "title": {"type": "string"},
                "score": {"type": "number"},
                "tags": {"type": "array"},
                "author": {"type": "pointer", "to": "users"},
            },
            "indexes": [{"fields": ["score"]}, {"fields": ["tags"]}],
            "permissions": {op: ["*"] for op in ("get", "find", "count", "create", "update", "delete")},
            "default_acl": "public",
        },
    )
    publishable = services.create_key(owner, project, "publishable").raw
    faces = _user_faces(project, publishable, secret, args.as_user)
    only = tuple(args.only or PHASES)
    _measure(faces, 20, args.block, only=only)  # warm caches and code paths once for both
    samples: dict[str, dict[str, list[float]]] = {face.name: {} for face in faces}
    for round_ in range(args.rounds):
        for name, measured in _measure(faces, args.ops, args.block, first=round_, only=only).items():
            for kind, value in measured.items():
                samples[name].setdefault(kind, []).append(value)
    table = {}
    for kind in samples["api_v1"]:
        native = statistics.median(samples["api_v1"][kind])
        parse = statistics.median(samples["parse"][kind])
        table[kind] = {"api_v1_us": round(native), "parse_us": round(parse), "ratio": round(parse / native, 3)}
    result = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "ops_per_round": args.ops,
        "rounds": args.rounds,
        "block": args.block,
        "caller": "user" if args.as_user else "secret key",
        "client": "wsgi" if args.wsgi else "django test client",
        "cpu_per_op": table,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""The same workload through the Parse face (/parse/) and the native face (/api/v1): CPU per operation.

In-process (Django's test client, no sockets), on a throw-away embedded database (SQLite in a temp
folder, or DATABASE_URL if set): create, get, query, update, delete and a 10-request batch, each
run N times through each face. Within each kind of operation the faces take turns in blocks of
`--block` operations (the first face alternating per block and per round), each face's CPU summed
over its blocks, so drift (the table growing, SQLite checkpoints, a collection of the garbage
Django's test client leaves, one weakref finalizer per request) hits both faces alike instead of
whichever ran that phase; the heap is collected and frozen before each phase (`gc.freeze()`, as
a pre-forking server freezes its start-up heap) so a full collection does not rescan it. CPU is `time.process_time()` of
this process, which holds the server side and an identical client side for both faces, so the
ratio under-states the face's relative cost a little, never over-states it.
LiveQuery is not in this workload (its cost is the realtime engine's, shared by both protocols;
bench/parse_peer.py measures it against Parse Server's). `--as-user` sends every request as a
signed-in user (publishable key + bearer token natively, REST key + r: session token through
/parse), the shape of the shared anchor workload, instead of the secret (master) key.

    python bench/parse_face.py --ops 300 --rounds 3 [--as-user] [--block 10]
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


class Native(Face):
    name = "api_v1"

    def __init__(self, secret: str, bearer: str | None = None):
        from django.test import Client

        self.http = Client(HTTP_X_API_KEY=secret, **({"HTTP_AUTHORIZATION": f"Bearer {bearer}"} if bearer else {}))
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


class ParseFace(Face):
    name = "parse"

    def __init__(self, ref: str, secret: str, session: str | None = None):
        from django.test import Client

        if session:  # `secret` is then the publishable key, sent as Parse's REST API key
            self.http = Client(
                HTTP_X_PARSE_APPLICATION_ID=ref, HTTP_X_PARSE_REST_API_KEY=secret, HTTP_X_PARSE_SESSION_TOKEN=session
            )
        else:
            self.http = Client(HTTP_X_PARSE_APPLICATION_ID=ref, HTTP_X_PARSE_MASTER_KEY=secret)
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


def _user_faces(project, publishable: str) -> list:
    """Both faces as one signed-in user (signed up natively, logged in through /parse for an r: token)."""
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
    return [
        Native(publishable, bearer=signup.json()["access_token"]),
        ParseFace(project.ref, publishable, session=login.json()["sessionToken"]),
    ]


def _measure(faces: list, ops: int, block: int, first: int = 0) -> dict[str, dict[str, float]]:
    """CPU microseconds per operation, per face and kind of operation, the faces taking turns."""
    ids: dict[str, list[str]] = {face.name: [] for face in faces}
    out: dict[str, dict[str, float]] = {face.name: {} for face in faces}

    def phase(kind: str, count: int, work) -> None:
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

    phase("create", ops, lambda face, n: ids[face.name].append(face.create(n)))
    phase("get", ops, lambda face, n: face.get(ids[face.name][n]))
    phase("update", ops, lambda face, n: face.update(ids[face.name][n]))
    phase("query", ops, lambda face, n: face.query(n))
    phase("delete", ops, lambda face, n: face.delete(ids[face.name][n]))
    phase("batch10", max(1, ops // 10), lambda face, n: face.batch(n))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300, help="operations of each kind per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--as-user", action="store_true", help="signed-in user instead of the secret key")
    parser.add_argument("--block", type=int, default=10, help="operations per turn of one face")
    args = parser.parse_args()
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
    faces = [Native(secret), ParseFace(project.ref, secret)]
    if args.as_user:
        faces = _user_faces(project, services.create_key(owner, project, "publishable").raw)
    _measure(faces, 20, args.block)  # warm caches and code paths once for both
    samples: dict[str, dict[str, list[float]]] = {face.name: {} for face in faces}
    for round_ in range(args.rounds):
        for name, measured in _measure(faces, args.ops, args.block, first=round_).items():
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
        "cpu_per_op": table,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

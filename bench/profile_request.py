"""Profile one signed-in data-API request in-process: where the time of a GET by id and a create goes.

Runs Django's full handler (every middleware, the view, the database) through Django's test
client on the database the environment selects (DATABASE_URL or the embedded SQLite), after
migrating a fresh database. Prints the statements each request runs and the wall time per
request of N repetitions; with --profile, a pyinstrument profile of the GETs and the creates.

    BASALT_DATA_DIR=$(mktemp -d) python bench/profile_request.py --n 500 [--profile]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_prof BASALT_DATA_DIR=$(mktemp -d) \
        python bench/profile_request.py --n 500

The database named by DATABASE_URL is migrated in place: give it a scratch database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
os.environ.setdefault("IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR", "100000")

from proc_cpu import cpu_seconds  # noqa: E402  (bench/, the script's own folder)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="pyinstrument profile (pip install pyinstrument)")
    parser.add_argument(
        "--cprofile",
        type=int,
        metavar="TOP",
        help="cProfile's TOP functions by own wall time (the database's time shows under psycopg's waits)",
    )
    parser.add_argument(
        "--wsgi", action="store_true", help="call the WSGI application with a prebuilt environ, as granian does"
    )
    parser.add_argument(
        "--only",
        choices=(
            "get",
            "create",
            "find",
            "batch",
            "parse_batch",
            "update",
            "count",
            "count_all",
            "acl_find",
            "acl_count",
            "secret_find",
        ),
        action="append",
        help="profile only these",
    )
    parser.add_argument(
        "--docs",
        type=int,
        default=0,
        help="more public documents with scores 0-999 (the anchors' quick run holds about 850, and 100 owner-only)",
    )
    parser.add_argument("--private", type=int, default=50, help="owner-only documents of other users")
    parser.add_argument(
        "--other-projects",
        type=int,
        default=0,
        help="make this many other projects first (each with its built-in collections and their indexes, "
        "partial indexes on the one document table): how a write's cost grows with the installation",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    from basalt.accounts.models import Account
    from basalt.projects import services

    owner = Account.objects.create_user(f"prof-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery")
    for number in range(args.other_projects):
        if number % 40 == 0:  # an account owns at most 50 projects (CONSOLE_PROJECTS_PER_ACCOUNT)
            other_owner = Account.objects.create_user(f"other-{uuid.uuid4().hex[:8]}@example.com", "correct horse")
        services.create_project(other_owner, f"other {number}")
    project = services.create_project(owner, "prof")
    pk = services.create_key(owner, project, "publishable").raw
    sk = services.create_key(owner, project, "secret").raw
    secret = APIClient()
    secret.credentials(HTTP_X_API_KEY=sk)
    made = secret.post(
        "/api/v1/schema/collections",
        {
            "name": "posts",
            "fields": {
                "title": {"type": "string"},
                "score": {"type": "number"},
                "tags": {"type": "array", "items": "string"},
            },
            "indexes": [{"fields": ["-score"]}, {"fields": ["tags"]}],
            "permissions": {
                "get": ["*"],
                "find": ["*"],
                "count": ["*"],
                "create": ["authenticated"],
                "update": ["authenticated"],
                "delete": ["authenticated"],
            },
            "default_acl": "owner_write_public_read",
        },
        format="json",
    )
    assert made.status_code == 201, made.content
    from basalt.documents.indexes import build_index
    from basalt.documents.models import CollectionIndex

    # Built here, as the jobs worker would (the anchors' adapter waits for them to be ready).
    for index in CollectionIndex.objects.filter(collection__project=project, status=CollectionIndex.PENDING):
        build_index(index.id)
    anon = APIClient()
    anon.credentials(HTTP_X_API_KEY=pk)
    email = f"u{uuid.uuid4().hex[:8]}@example.com"
    signed = anon.post(
        "/api/v1/auth/signup",
        {"email": email, "password": "pw-" + "x" * 12},
        format="json",
    )
    assert signed.status_code == 201, signed.content
    user = APIClient()
    user.credentials(HTTP_X_API_KEY=pk, HTTP_AUTHORIZATION="Bearer " + signed.json()["access_token"])
    docs = "/api/v1/collections/posts/documents"
    body = {"title": "hello", "score": 5, "tags": ["t01", "t02"]}
    ids = [user.post(docs, body, format="json").json()["id"] for _ in range(50)]

    # The anchors workload's phase d: owner-only documents beside the public ones, so the ACL
    # filter removes rows; made by the secret key for other owners, as its private_n batches do.
    def scored(number: int, title: str = "hello") -> dict:
        return {"title": title, "score": number * 7919 % 1000, "tags": ["t01", "t02"]}

    for first in range(0, args.private, 25):
        requests = [
            {"method": "POST", "path": docs, "body": {**scored(j, "private"), "acl": {f"other{j}": {"read": True}}}}
            for j in range(first, min(first + 25, args.private))
        ]
        made = secret.post("/api/v1/batch", {"requests": requests}, format="json")
        assert made.status_code == 200, made.content
    for first in range(0, args.docs, 50):
        requests = [
            {"method": "POST", "path": docs, "body": scored(j)} for j in range(first, min(first + 50, args.docs))
        ]
        made = user.post("/api/v1/batch", {"requests": requests}, format="json")
        assert made.status_code == 200, made.content
    with connection.cursor() as cursor:  # the workload's phases run long after autovacuum's analyze
        cursor.execute("ANALYZE basalt_document" if connection.vendor == "postgresql" else "ANALYZE")

    # The same user through the Parse face (an r: session token from its log-in), for parse_batch.
    parse_headers = {"HTTP_X_PARSE_APPLICATION_ID": project.ref, "HTTP_X_PARSE_REST_API_KEY": pk}
    logged_in = APIClient(**parse_headers).get("/parse/login", {"username": email, "password": "pw-" + "x" * 12})
    assert logged_in.status_code == 200, logged_in.content
    parse_headers["HTTP_X_PARSE_SESSION_TOKEN"] = logged_in.json()["sessionToken"]
    parse_user = APIClient(**parse_headers)
    if args.wsgi:
        user = _WsgiClient(pk, signed.json()["access_token"])
        secret = _WsgiClient(sk, None)
        parse_user = _WsgiClient(headers=parse_headers)

    def get(i):
        response = user.get(f"{docs}/{ids[i % len(ids)]}")
        assert response.status_code == 200, response.content

    def create(i):
        response = user.post(docs, body, format="json")
        assert response.status_code == 201, response.content

    def find(i):
        response = user.get(docs, {"where": '{"score": {"$gt": 3}}', "order": "-score", "limit": "20"})
        assert response.status_code == 200, response.content

    def update(i):  # the anchors workload's update phase: an increment of one's own document
        response = user.patch(f"{docs}/{ids[i % len(ids)]}", {"score": {"__op": "increment", "by": 1}}, format="json")
        assert response.status_code == 200, response.content

    def count(i):  # the workload's count with `score > X`, as the anchors' Basalt adapter asks it
        response = user.get(docs, {"where": '{"score": {"$gt": 450}}', "count": "true", "limit": "1"})
        assert response.status_code == 200, response.content

    def count_all(i):  # phase d's count of all, by the secret key
        response = secret.get(docs, {"where": "{}", "count": "true", "limit": "1"})
        assert response.status_code == 200, response.content

    def acl_find(i):  # phase d's ACL query by the signed-in user (public and others' private rows)
        response = user.get(docs, {"where": '{"score": {"$gt": 450}}', "order": "-score", "limit": "20"})
        assert response.status_code == 200, response.content

    def secret_find(i):  # phase d's ACL query by the secret key (no ACL filter)
        response = secret.get(docs, {"where": '{"score": {"$gt": 450}}', "order": "-score", "limit": "20"})
        assert response.status_code == 200, response.content

    def acl_count(i):  # phase d's count of all by the signed-in user
        response = user.get(docs, {"where": "{}", "count": "true", "limit": "1"})
        assert response.status_code == 200, response.content

    batch_body = {"requests": [{"method": "POST", "path": docs, "body": body} for _ in range(50)]}

    def batch(i):  # the anchors workload's batch phase: 50 creates in one loose batch
        response = user.post("/api/v1/batch", batch_body, format="json")
        assert response.status_code == 200, response.content

    parse_batch_body = {"requests": [{"method": "POST", "path": "/parse/classes/Posts", "body": body}] * 50}

    def parse_batch(i):  # the same 50 creates through the Parse face's /batch
        response = parse_user.post("/parse/batch", parse_batch_body, format="json")
        assert response.status_code == 200 and all("success" in r for r in response.json()), response.content

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]

    def database_cpu() -> float:
        """CPU seconds so far of this database's PostgreSQL backends (0 on SQLite: it runs in-process)."""
        if engine != "postgresql":
            return 0.0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            pids = [row[0] for row in cursor.fetchall()]
        return sum(map(cpu_seconds, pids))

    print(f"database: {engine}; n={args.n}")
    ops = {"get": get, "create": create, "find": find, "batch": batch, "parse_batch": parse_batch, "update": update}
    ops.update(count=count, count_all=count_all, acl_find=acl_find, acl_count=acl_count, secret_find=secret_find)
    for name, op in ops.items():
        if args.only and name not in args.only:
            continue
        with CaptureQueriesContext(connection) as queries:
            op(0)
        print(f"\n{name}: {len(queries.captured_queries)} statements")
        for q in queries.captured_queries:
            print("   ", q["sql"][:160].replace("\n", " "))
        for i in range(20):
            op(i)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        if args.cprofile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        db_start, cpu_start, start = database_cpu(), time.process_time(), time.perf_counter()
        # Other processes on the host only ever add to a batch's CPU time (shared caches, turbo),
        # so the least CPU of many small batches is the steadiest figure on a busy machine.
        batch_cpu = []
        for first in range(0, args.n, 100):
            batch_start = time.process_time()
            for i in range(first, min(first + 100, args.n)):
                op(i)
            batch_cpu.append((time.process_time() - batch_start) / (min(first + 100, args.n) - first))
        elapsed = time.perf_counter() - start
        cpu, db = time.process_time() - cpu_start, database_cpu() - db_start
        if args.cprofile:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime")).print_stats(args.cprofile)
            if os.environ.get("PROFILE_CALLERS"):
                pstats.Stats(profiler).print_callers(os.environ["PROFILE_CALLERS"])
        elif profiler is not None:
            profiler.stop()
            show_all = bool(os.environ.get("PROFILE_ALL"))
            print(profiler.output_text(unicode=False, color=False, show_all=show_all, short_mode=True))
        print(
            f"{name}: {1000 * elapsed / args.n:.3f} ms/request over {args.n} (one thread, in-process); "
            f"CPU per request: {1000 * cpu / args.n:.3f} ms server, {1000 * db / args.n:.3f} ms database; "
            f"least server CPU of {len(batch_cpu)} batches of 100: {1000 * min(batch_cpu):.3f} ms"
        )


class _WsgiClient:
    """Requests straight into Django's WSGI application: no test-client request building or
    response bookkeeping, so the CPU per request is close to what a WSGI server's worker spends."""

    def __init__(self, key: str = "", token: str | None = None, headers: dict[str, str] | None = None) -> None:
        import io
        import json
        from types import SimpleNamespace
        from urllib.parse import urlencode

        from django.core.wsgi import get_wsgi_application

        self._app, self._io, self._json, self._ns, self._urlencode = (
            get_wsgi_application(),
            io,
            json,
            SimpleNamespace,
            urlencode,
        )
        self._headers = dict(headers) if headers else {"HTTP_X_API_KEY": key}
        if token:
            self._headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def _call(self, method: str, path: str, query: str = "", body: bytes = b""):
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "wsgi.url_scheme": "http",
            "wsgi.input": self._io.BytesIO(body),
            "wsgi.errors": self._io.StringIO(),
            "CONTENT_LENGTH": str(len(body)),
            **self._headers,
        }
        if body:
            environ["CONTENT_TYPE"] = "application/json"
        status: list[str] = []
        response = self._app(environ, lambda s, headers, exc_info=None: status.append(s))
        content = b"".join(response)
        getattr(response, "close", lambda: None)()
        return self._ns(status_code=int(status[0].split()[0]), content=content, json=lambda: self._json.loads(content))

    def get(self, path: str, params: dict[str, str] | None = None):
        return self._call("GET", path, self._urlencode(params or {}))

    def post(self, path: str, data: dict, format: str = "json"):  # noqa: A002 (APIClient's signature)
        return self._call("POST", path, body=self._json.dumps(data).encode())

    def patch(self, path: str, data: dict, format: str = "json"):  # noqa: A002 (APIClient's signature)
        return self._call("PATCH", path, body=self._json.dumps(data).encode())


if __name__ == "__main__":
    main()

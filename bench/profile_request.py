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
    anon = APIClient()
    anon.credentials(HTTP_X_API_KEY=pk)
    signed = anon.post(
        "/api/v1/auth/signup",
        {"email": f"u{uuid.uuid4().hex[:8]}@example.com", "password": "pw-" + "x" * 12},
        format="json",
    )
    assert signed.status_code == 201, signed.content
    user = APIClient()
    user.credentials(HTTP_X_API_KEY=pk, HTTP_AUTHORIZATION="Bearer " + signed.json()["access_token"])
    docs = "/api/v1/collections/posts/documents"
    body = {"title": "hello", "score": 5, "tags": ["t01", "t02"]}
    ids = [user.post(docs, body, format="json").json()["id"] for _ in range(50)]

    def get(i):
        response = user.get(f"{docs}/{ids[i % len(ids)]}")
        assert response.status_code == 200, response.content

    def create(i):
        response = user.post(docs, body, format="json")
        assert response.status_code == 201, response.content

    def find(i):
        response = user.get(docs, {"where": '{"score": {"$gt": 3}}', "order": "-score", "limit": "20"})
        assert response.status_code == 200, response.content

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
    for name, op in (("get", get), ("create", create), ("find", find)):
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
        db_start, cpu_start, start = database_cpu(), time.process_time(), time.perf_counter()
        for i in range(args.n):
            op(i)
        elapsed = time.perf_counter() - start
        cpu, db = time.process_time() - cpu_start, database_cpu() - db_start
        if profiler is not None:
            profiler.stop()
            show_all = bool(os.environ.get("PROFILE_ALL"))
            print(profiler.output_text(unicode=False, color=False, show_all=show_all, short_mode=True))
        print(
            f"{name}: {1000 * elapsed / args.n:.3f} ms/request over {args.n} (one thread, in-process); "
            f"CPU per request: {1000 * cpu / args.n:.3f} ms server, {1000 * db / args.n:.3f} ms database"
        )


if __name__ == "__main__":
    main()

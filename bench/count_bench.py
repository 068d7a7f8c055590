"""Counts on PostgreSQL against Parse Server's SQL on the same data and the same server (issue 10).

Seeds a database like the one the anchors' full workload leaves behind (200 users, 16,300 posts:
15,300 owner-write public-read, 1,000 owner-only; then 2,000 increments and 2,000 deletes, as
phase c does) in Basalt's stored form, and the same posts in a table shaped as Parse Server keeps
its class (`"Post"`: typed columns, `_rperm text[]`, no index but the primary key), then times, at
1 and 4 client threads:

- `basalt`: the statement Basalt runs for each count (compiled by the query engine itself), and
- `parse`: the statement Parse Server 9.10 runs for the same count on its own table
  (`SELECT count(*) FROM "Post" WHERE score > $1 AND (_rperm IS NULL OR _rperm && $2)`; its
  master key's count of all is an estimate from `pg_class.reltuples`, timed too as `parse est`),

on one psycopg connection per thread, prepared, alternating the two for each request kind, and
prints op/s and basalt / parse. `--engine` also times `run_find` in process (parse, compile,
execute: what a request costs beyond HTTP) for each count, one thread.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_h2_count BASALT_DATA_DIR=$(mktemp -d) \\
        python bench/count_bench.py --seed            # once: recreate, migrate, seed
    ... python bench/count_bench.py [--seconds 3] [--engine] [--vacuum | --no-vacuum] [--explain]

`--vacuum` runs VACUUM (ANALYZE) on both tables first (what autovacuum does on a normal
PostgreSQL; this host runs with autovacuum off); `--dirty` replays phase c's increments and deletes
first (fresh dead rows, pages no longer all-visible) without vacuuming.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

USERS, PUBLIC, PRIVATE, UPDATES, DELETES = 200, 15_300, 1_000, 2_000, 2_000
TAGS = [f"t{i:02d}" for i in range(20)]


def recreate(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    if not name.startswith("basalt_h"):
        raise SystemExit(f"refusing to recreate {name!r}")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)


def seed() -> None:
    import uuid

    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    call_command("migrate", verbosity=0)
    from basalt.accounts.models import Account
    from basalt.documents import statistics
    from basalt.documents.indexes import build_index
    from basalt.documents.models import Collection, CollectionIndex
    from basalt.projects import services

    owner = Account.objects.create_user(f"count-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery")
    project = services.create_project(owner, "counts")
    secret = APIClient()
    secret.credentials(HTTP_X_API_KEY=services.create_key(owner, project, "secret").raw)
    perms = {"get": ["*"], "find": ["*"], "count": ["*"], "create": ["authenticated"]}
    body = {
        "name": "posts",
        "fields": {
            "title": {"type": "string"},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": "string"},
        },
        "indexes": [{"fields": ["-score"]}, {"fields": ["tags"]}],
        "permissions": {**perms, "update": ["authenticated"], "delete": ["authenticated"]},
        "default_acl": "owner_write_public_read",
    }
    made = secret.post("/api/v1/schema/collections", body, format="json")
    assert made.status_code == 201, made.content
    for index in CollectionIndex.objects.filter(collection__project=project, status=CollectionIndex.PENDING):
        build_index(index.id)
    posts = Collection.objects.get(project=project, name="posts")
    users = Collection.objects.get(project=project, name="users")
    rng = random.Random(42)
    user_ids = [uuid.uuid4().hex[:20] for _ in range(USERS)]
    rows = []
    for uid in user_ids:
        rows.append((uid, users.id, {"username": uid}, {uid: {"read": True, "write": True}}, [uid], [uid]))
    for n in range(PUBLIC + PRIVATE):
        uid = user_ids[n % USERS]
        public = n < PUBLIC
        data = {
            "title": "post " + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=12)),
            "score": rng.randint(0, 1000),
            "tags": rng.sample(TAGS, rng.randint(1, 3)),
            "author": uid,
        }
        acl = {uid: {"read": True, "write": True}, **({"*": {"read": True}} if public else {})}
        readers = ["*", uid] if public else [uid]
        rows.append((uuid.uuid4().hex[:20], posts.id, data, acl, readers, [uid]))
    import orjson

    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, write_principals, "
            "created_by, created_at, updated_at, version) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s::jsonb, "
            "%s::jsonb, %s, now(), now(), 1)",
            [
                (
                    i,
                    project.id,
                    c,
                    orjson.dumps(d).decode(),
                    orjson.dumps(a).decode(),
                    orjson.dumps(r).decode(),
                    orjson.dumps(w).decode(),
                    w[0],
                )
                for i, c, d, a, r, w in rows
            ],
        )
        # Parse Server's table for the class, as its PostgreSQL adapter creates it.
        cursor.execute(
            'CREATE TABLE "Post" ("objectId" text PRIMARY KEY, "createdAt" timestamptz, "updatedAt" timestamptz, '
            '"_rperm" text[], "_wperm" text[], "title" text, "score" double precision, "tags" jsonb, "author" text)'
        )
        cursor.execute(
            'INSERT INTO "Post" SELECT id, created_at, updated_at, '
            "ARRAY(SELECT jsonb_array_elements_text(read_principals)), "
            "ARRAY(SELECT jsonb_array_elements_text(write_principals)), data->>'title', (data->>'score')::float8, "
            "data->'tags', data->>'author' FROM basalt_document WHERE collection_id = %s",
            [posts.id],
        )
    dirty(posts.id)
    # What the anchors' collection has by then: statistics on its indexed fields' expressions (the
    # growth check adds them once a collection holds STATISTICS_FROM_ROWS documents).
    statistics._add_statistics(posts.id)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE basalt_document")
        cursor.execute('ANALYZE "Post"')
    print(f"seeded: project {project.id}, posts collection {posts.id}, {len(rows)} rows", flush=True)


def dirty(collection_id: int) -> None:
    """Phase c's writes on both tables: increments of public posts, then deletes."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM basalt_document WHERE collection_id = %s AND read_principals ? '*' ORDER BY random()",
            [collection_id],
        )
        ids = [row[0] for row in cursor.fetchall()]
        bumped, gone = ids[:UPDATES], ids[UPDATES : UPDATES + DELETES]
        cursor.execute(
            "UPDATE basalt_document SET data = jsonb_set(data, '{score}', to_jsonb((data->>'score')::numeric + 1)), "
            "version = version + 1, updated_at = now() WHERE id = ANY(%s)",
            [bumped],
        )
        cursor.execute('UPDATE "Post" SET score = score + 1, "updatedAt" = now() WHERE "objectId" = ANY(%s)', [bumped])
        cursor.execute("DELETE FROM basalt_document WHERE id = ANY(%s)", [gone])
        cursor.execute('DELETE FROM "Post" WHERE "objectId" = ANY(%s)', [gone])


def cases(collection, users: list[str]):
    """(name, basalt statement maker, parse statement maker): each maker takes an rng, gives (sql, params)."""
    from basalt.documents.finding import project_limits
    from basalt.documents.query import parse_query
    from basalt.documents.query.compiler import Compiler
    from basalt.documents.query.dialects import current_dialect

    limits = project_limits(collection.project)

    def basalt(where, as_user, split=True):
        def make(rng):
            principals = frozenset({"*", "authenticated", rng.choice(users)}) if as_user else None
            raw = {"where": where(rng), "count": True}
            query = parse_query(collection, raw, limits)
            return Compiler(current_dialect(), collection).count(query, principals, split=split)

        return make

    def parse(with_score, as_user):
        def make(rng):
            sql, params = 'SELECT count(*) FROM "Post"', []
            terms = []
            if with_score:
                terms.append("score > %s")
                params.append(rng.randint(0, 900))
            if as_user:
                terms.append('("_rperm" IS NULL OR "_rperm" && %s::text[])')
                params.append(["*", rng.choice(users)])
            return (sql + (" WHERE " + " AND ".join(terms) if terms else "")), params

        return make

    def estimate(rng):
        return "SELECT reltuples AS approximate_row_count FROM pg_class WHERE relname = %s", ["Post"]

    score = lambda r: {"score": {"$gt": r.randint(0, 900)}}  # noqa: E731
    every = lambda r: {}  # noqa: E731
    return [
        ("count score > X, user", basalt(score, True), basalt(score, True, False), parse(True, True)),
        ("count all, user", basalt(every, True), basalt(every, True, False), parse(False, True)),
        ("count all, secret", basalt(every, False), basalt(every, False, False), estimate),
        ("count all, secret (exact)", basalt(every, False), basalt(every, False, False), parse(False, False)),
        ("count score > X, secret", basalt(score, False), basalt(score, False, False), parse(True, False)),
    ]


def run_sql(url: str, make, threads: int, seconds: float) -> float:
    """Op/s of `make`'s statements on `threads` connections for `seconds` (prepared, as Basalt runs them)."""
    import psycopg

    done = [0] * threads
    stop = time.monotonic() + seconds
    start = threading.Barrier(threads + 1)

    def worker(index: int) -> None:
        rng = random.Random(index)
        statements = [make(rng) for _ in range(200)]
        with psycopg.connect(url, prepare_threshold=0) as conn:
            for sql, params in statements[:20]:
                conn.execute(sql, params).fetchall()
            start.wait()
            n = 0
            while time.monotonic() < stop:
                sql, params = statements[n % len(statements)]
                conn.execute(sql, params).fetchall()
                n += 1
            done[index] = n

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in pool:
        thread.join()
    return sum(done) / (time.monotonic() - began)


def explain(url: str, make) -> str:
    import psycopg

    sql, params = make(random.Random(7))
    with psycopg.connect(url) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    return "\n".join(row[0] for row in rows)


def engine_ms(collection, users: list[str], raw_of, as_user: bool, n: int = 300) -> float:
    from basalt.documents.finding import project_limits
    from basalt.documents.query import parse_query, run_count

    limits = project_limits(collection.project)
    rng = random.Random(3)
    best = None
    for _ in range(3):
        began = time.perf_counter()
        for _ in range(n):
            principals = frozenset({"*", "authenticated", rng.choice(users)}) if as_user else None
            run_count(collection, parse_query(collection, {**raw_of(rng), "count": True}, limits), principals)
        took = (time.perf_counter() - began) / n * 1000
        best = took if best is None else min(best, took)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", action="store_true", help="recreate the database and seed it")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--vacuum", action="store_true", help="VACUUM (ANALYZE) both tables first")
    parser.add_argument("--dirty", action="store_true", help="replay phase c's increments and deletes first")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each statement")
    parser.add_argument("--engine", action="store_true", help="also time run_count in process")
    parser.add_argument("--only", action="append", help="only the cases whose name starts with this")
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    if args.seed:
        recreate(url)
    import django

    django.setup()
    from django.db import connection

    from basalt.documents.models import Collection, Document

    if args.seed:
        seed()
    collection = Collection.objects.filter(name="posts").order_by("-id").first()
    users = list(
        Document.objects.filter(collection__project=collection.project_id, collection__name="users").values_list(
            "id", flat=True
        )
    )
    if args.dirty:
        dirty(collection.id)
    if args.vacuum:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM (ANALYZE) basalt_document")
            cursor.execute('VACUUM (ANALYZE) "Post"')
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, relpages, relallvisible FROM pg_class WHERE relname IN ('basalt_document', 'Post')"
        )
        state = ", ".join(f"{name}: {pages} pages, {visible} all-visible" for name, pages, visible in cursor.fetchall())
    print(f"# {state}; load {os.getloadavg()[0]:.2f}", flush=True)
    print("# basalt (this tree's statement) / before (one filter, the statement before the split) / parse", flush=True)
    for name, basalt, before, parse in cases(collection, users):
        if args.only and not any(name.startswith(prefix) for prefix in args.only):
            continue
        if args.explain:
            print(f"## {name}\n-- basalt\n{explain(url, basalt)}\n-- parse\n{explain(url, parse)}", flush=True)
        cells = []
        for threads in args.threads:
            # Interleaved, twice each: the host's load moves within seconds.
            rates: dict[str, list[float]] = {"basalt": [], "before": [], "parse": []}
            for _ in range(2):
                for label, make in (("basalt", basalt), ("before", before), ("parse", parse)):
                    rates[label].append(run_sql(url, make, threads, args.seconds / 2))
            b, o, p = (sum(rates[k]) / 2 for k in ("basalt", "before", "parse"))
            cells.append(f"c={threads}: {b:6.0f} / {o:6.0f} / {p:6.0f} op/s, /parse {b / p:5.2f} (before {o / p:5.2f})")
        print(f"{name:27s} " + " | ".join(cells), flush=True)
    if args.engine:
        for name, raw_of, as_user in (
            ("count score > X, user", lambda r: {"where": {"score": {"$gt": r.randint(0, 900)}}}, True),
            ("count all, user", lambda r: {}, True),
            ("count all, secret", lambda r: {}, False),
        ):
            print(f"engine {name:22s} {engine_ms(collection, users, raw_of, as_user):.3f} ms", flush=True)


if __name__ == "__main__":
    main()

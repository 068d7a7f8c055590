"""Time the query engine itself (parse + one SQL page) on a large collection, without HTTP.

Usage: DATABASE_URL=postgres://… python bench/query_engine.py [--docs 100000] [--runs 2000]
Creates (once) a project `bench-query` with a `bench_items` collection of N documents and an index
on (score, -created_at), then prints per-call latency percentiles of an indexed where+order+limit 20.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "platform"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

import basalt.documents.fields  # noqa: E402,F401
from basalt.documents import indexes  # noqa: E402
from basalt.documents.models import Collection, CollectionIndex  # noqa: E402
from basalt.documents.query import parse_query, run_find  # noqa: E402
from basalt.projects.models import Project  # noqa: E402

LIMITS = {"max_page_size": 1000, "max_in_values": 1000, "max_where_depth": 10, "max_regex_length": 256,
          "max_expand_depth": 3}


def setup(docs: int) -> Collection:
    call_command("migrate", verbosity=0)
    project = Project.objects.filter(name="bench-query").first()
    if project is None:
        from basalt.accounts.models import Account
        from basalt.projects import services

        owner = Account.objects.filter(email="bench-query@example.com").first() or Account.objects.create_user(
            "bench-query@example.com", "bench password 123")
        project = services.create_project(owner, "bench-query")
    coll, _ = Collection.objects.get_or_create(project=project, name="bench_items", defaults={"fields": {
        "score": {"type": "number"}, "title": {"type": "string"}, "kind": {"type": "string"}}})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM basalt_document WHERE collection_id = %s", [coll.id])
        have = cursor.fetchone()[0]
        if have < docs:
            print(f"inserting {docs - have} documents…", flush=True)
            cursor.execute(
                """INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals,
                       write_principals, created_by, created_at, updated_at, version)
                   SELECT 'b' || lpad(g::text, 10, '0'), %s, %s,
                          jsonb_build_object('score', g %% 10000, 'title', 't' || (g %% 97), 'kind',
                                             CASE WHEN g %% 2 = 0 THEN 'note' ELSE 'link' END),
                          '{"*": {"read": true}}', '["*"]', '[]', NULL,
                          now() - (g || ' seconds')::interval, now(), 1
                   FROM generate_series(%s, %s) g""",
                [project.id, coll.id, have + 1, docs],
            )
    row, _ = CollectionIndex.objects.get_or_create(collection=coll, fields=["score", "-created_at"], defaults={
        "db_name": f"bx_{coll.id}_bench_score"})
    print("index:", indexes.build_index(row.id), flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE basalt_document")
    return coll


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    coll = setup(args.docs)
    principals = frozenset({"*", "u_bench"})
    raw_queries = [{"where": {"score": {"$gte": s}}, "order": "score,-created_at", "limit": 20}
                   for s in range(0, 10000, 37)]
    query = parse_query(coll, raw_queries[0], LIMITS)
    from basalt.documents.query.compiler import Compiler
    from basalt.documents.query.dialects import current_dialect

    sql, params = Compiler(current_dialect(), coll).select(query, principals, 21)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN ANALYZE " + sql, params)
        print("\n".join(line for (line,) in cursor.fetchall()))
    timings = []
    started = time.perf_counter()
    for i in range(args.runs):
        t0 = time.perf_counter()
        result = run_find(coll, parse_query(coll, raw_queries[i % len(raw_queries)], LIMITS), principals)
        timings.append((time.perf_counter() - t0) * 1000)
        assert len(result.rows) == 20
    elapsed = time.perf_counter() - started
    timings.sort()
    pct = lambda p: timings[min(len(timings) - 1, int(p / 100 * len(timings)))]  # noqa: E731
    print(f"{connection.vendor}: {args.docs} docs, {args.runs} finds (parse + 1 SQL, 20 rows) in one thread: "
          f"{args.runs / elapsed:.0f}/s, p50 {pct(50):.2f} ms, p95 {pct(95):.2f} ms, p99 {pct(99):.2f} ms, "
          f"mean {statistics.mean(timings):.2f} ms")


if __name__ == "__main__":
    main()

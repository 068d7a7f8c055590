"""Server time of every console page on a large project (issue 15: each under 300 ms with
1,000,000 documents and 50 collections).

A fresh PostgreSQL database is migrated; one project gets 50 collections, `--docs` documents in
one of them (seeded in SQL in the app's stored form, like documents_bench.py), request-log lines
and an outbox. Each page is then rendered in-process through Django's test client (the full
middleware stack, view, services and template; no network, no browser), `--rounds` times, and
the median and worst time per page are printed. Loopback only; bounded by the sizes given.

    createdb -h 127.0.0.1 -U postgres basalt_console_bench   # (dropped and recreated by the script)
    python bench/console_bench.py --docs 1000000 --rounds 5
    python bench/console_bench.py --docs 20000 --rounds 3 --redis redis://127.0.0.1:6393/5   # small
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]

from bench.documents_bench import manage, psql, recreate_database, seed_documents  # noqa: E402

TARGET_MS = 300.0


def environment(db: str, redis: str, data_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db}",
        REDIS_URL=redis,
        BASALT_DATA_DIR=data_dir,
        PYTHONPATH=str(ROOT / "platform"),
        REQUEST_LOG_FLUSH_SECONDS="0",
        LOG_LEVEL="WARNING",
    )
    return env


def seed(db: str, docs: int, collections: int, log_lines: int):
    """The project, its collections, documents, request-log lines and mails; returns (client, urls)."""

    from basalt.accounts.models import Account
    from basalt.documents import catalog
    from basalt.documents import services as documents
    from basalt.logs.models import SentMail
    from basalt.projects import services
    from console.caller import console_caller

    owner = Account.objects.create_user("bench@example.com", "a long bench passphrase 42")
    project = services.create_project(owner, "Console bench")
    fields = {
        "title": {"type": "string"},
        "tag": {"type": "string"},
        "n": {"type": "number"},
        "done": {"type": "boolean"},
        "meta": {"type": "object"},
    }
    for i in range(collections - 1):
        catalog.create_collection(project, {"name": f"c{i:02d}", "fields": fields})
    catalog.create_collection(project, {"name": "items", "fields": fields, "indexes": [{"fields": ["n"]}]})
    items = catalog.get_collection(project, "items")
    started = time.perf_counter()
    seed_documents(db, items.id, project.id, docs)
    print(f"seeded {docs:,} documents in {time.perf_counter() - started:.1f} s", flush=True)
    # The declared index is built by the worker in an install (docker-compose, or `serve`'s in-process
    # worker); this script runs none, so it builds it the same way before measuring.
    from basalt.documents import indexes
    from basalt.documents.models import CollectionIndex

    started = time.perf_counter()
    for index_id in CollectionIndex.objects.filter(collection__project=project).values_list("id", flat=True):
        indexes.build_index(index_id)
    print(f"built the declared indexes in {time.perf_counter() - started:.1f} s", flush=True)
    caller = console_caller(project, owner.pk)
    doc = documents.create_document(caller, "items", {"title": "bench", "n": 1, "meta": {"a": 1}}).body
    psql(
        db,
        "INSERT INTO basalt_request_log (project_id, at, method, path, route, status, error_code, latency_ms, "
        "caller_kind, user_id, request_id) "
        f"SELECT {project.id}, now() - g * interval '1 s', 'GET', '/api/v1/collections/items/documents', "
        "'documents', CASE WHEN g % 20 = 0 THEN 404 ELSE 200 END, CASE WHEN g % 20 = 0 THEN 'not_found' ELSE '' END, "
        f"(g % 50) + 0.5, 'publishable', '', md5(g::text) FROM generate_series(1, {log_lines}) g",
    )
    for n in range(50):
        SentMail.objects.create(project=project, kind="invitation", to=f"p{n}@example.com", subject="Hi", body="x")
    psql(db, "ANALYZE")
    return pages(owner, project, doc["id"], log_lines)


def reuse():
    """The owner, project and a document of an earlier run's database (`--reuse`)."""
    from basalt.accounts.models import Account
    from basalt.documents.models import Document
    from basalt.logs.models import RequestLog
    from basalt.projects.models import Project

    owner = Account.objects.get(email="bench@example.com")
    project = Project.objects.get()
    doc_id = Document.objects.filter(project=project, data__title="bench").values_list("id", flat=True).first()
    return pages(owner, project, doc_id, RequestLog.objects.filter(project=project).count())


def pages(owner, project, doc_id: str, log_lines: int):
    from django.test import Client

    # The owner of the installation too, so its own pages (mail server, install outbox) are measured.
    type(owner).objects.filter(pk=owner.pk).update(is_superuser=True)
    client = Client()
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    base = f"/console/p/{project.ref}"
    urls = {
        "projects": "/console/projects",
        "home": base,
        "schema": f"{base}/schema",
        "schema items": f"{base}/schema/items",
        "data items": f"{base}/data/items",
        "data items page 2": f"{base}/data/items?page=2",
        "data items sorted by n": f"{base}/data/items?order=-n",
        "data items filter n>=99000": f"{base}/data/items?f=n&op=%E2%89%A5&v=99000",
        "data items OR filter": f"{base}/data/items?f=n&op=%3D&v=5&g=0&f=tag&op=%3D&v=t7&g=1",
        "document": f"{base}/data/items/{doc_id}",
        "cell editor": f"{base}/data/items/{doc_id}/cell/title",
        "users": f"{base}/users",
        "roles": f"{base}/roles",
        "usage": f"{base}/usage",
        f"logs ({log_lines:,} lines)": f"{base}/logs",
        "logs by request id": f"{base}/logs?rid={'0' * 32}",
        "outbox": f"{base}/outbox",
        "settings": f"{base}/settings",
        "members": f"{base}/members",
        "reference": f"{base}/reference",
        "webhooks": f"{base}/webhooks",
        "jobs": f"{base}/jobs",
        "audit": f"{base}/audit",
        "files": f"{base}/files",
        "push": f"{base}/push",
        "realtime": f"{base}/realtime",
        "install mail server": "/console/install/mail",
        "install outbox": "/console/install/outbox",
    }
    return client, urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--collections", type=int, default=50)
    parser.add_argument("--log-lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--db", default="basalt_console_bench")
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument("--reuse", action="store_true", help="measure the database an earlier run seeded")
    parser.add_argument("--only", help="measure only the pages whose name contains this")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="console-bench-")
    env = environment(args.db, args.redis, data_dir)
    if not args.reuse:
        recreate_database(args.db)
    manage(env, "migrate", "--noinput")
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client, urls = reuse() if args.reuse else seed(args.db, args.docs, args.collections, args.log_lines)
    urls = {name: url for name, url in urls.items() if not args.only or args.only in name}

    results = {}
    for name, url in urls.items():
        started = time.perf_counter()
        client.get(url)  # warm: template compilation, schema caches (and usage's first measurement)
        first_ms = (time.perf_counter() - started) * 1000
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (name, response.status_code)
        results[name] = {
            "median_ms": round(statistics.median(times), 1),
            "max_ms": round(max(times), 1),
            "first_ms": round(first_ms, 1),
        }
        mark = "ok" if results[name]["median_ms"] < TARGET_MS else "SLOW"
        row = results[name]
        print(
            f"{name:32} median {row['median_ms']:8.1f} ms   max {row['max_ms']:8.1f} ms"
            f"   first {row['first_ms']:8.1f} ms  {mark}"
        )
    print(f"\n{args.docs:,} documents, {args.collections} collections, {args.rounds} rounds; target {TARGET_MS:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps({"docs": args.docs, "results": results}, indent=2))


if __name__ == "__main__":
    main()

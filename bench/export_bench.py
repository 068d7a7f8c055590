"""Project export and import of N documents: seconds and peak RSS of each (issue 14's speed table).

Seeds a project with N documents (bulk rows, as a restored project would hold), then runs
`manage.py export_project` and `manage.py import_project --new-ids` (into an empty project of the
same install) as child processes and reads each one's own peak RSS from wait4(). The target:
export ≤ 60 s, import ≤ 120 s, RSS < 500 MiB at N = 1,000,000.

Baseline, same run, same rows: the database moving them with no Python per row. PostgreSQL: a plain
`COPY (SELECT * FROM basalt_document …) TO STDOUT` gzip'd at the archive's level (export), and
`COPY … FROM STDIN` of those bytes into a scratch table with the same indexes (`LIKE … INCLUDING
ALL`; no foreign keys, which the real table checks at commit) (import). SQLite: the rows read with
one cursor and gzip'd as text (export), and `INSERT INTO scratch SELECT …` into a table with the
same indexes (import). The ratios are Basalt's time over the baseline's; Basalt's times include
its command's start (`startup_seconds`, measured as `manage.py check` in this run).

    python bench/export_bench.py --n 100000                 # embedded default (SQLite, temp data dir)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_bench python bench/export_bench.py --n 1000000

Prints one JSON object. Do not run the 1,000,000 case on a machine shared with test runs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED_BATCH = 5000


def setup(data_dir: str) -> None:
    os.environ.setdefault("BASALT_DATA_DIR", data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
    sys.path.insert(0, str(ROOT / "platform"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(n: int):
    from django.db import connection
    from django.utils import timezone

    from basalt.accounts.models import Account
    from basalt.core.ids import random_id
    from basalt.documents import catalog
    from basalt.documents.models import Collection, Document
    from basalt.projects.services import create_project

    owner = Account.objects.create_user(f"bench-{random_id(8)}@example.com", "bench passphrase 42")
    project = create_project(owner, "Export bench")
    catalog.create_collection(
        project,
        {
            "name": "items",
            "fields": {
                "title": {"type": "string"},
                "score": {"type": "number"},
                "tags": {"type": "array", "items": "string"},
                "done": {"type": "boolean"},
            },
            "indexes": [{"fields": ["score"]}],
        },
    )
    collection = Collection.objects.get(project=project, name="items")
    started = time.monotonic()
    now = timezone.now()

    def data(i: int) -> dict:
        # A random word per row: the archive compresses like real data, not like one repeated row.
        return {"title": f"item {i} {random_id(12)} " + "lorem ipsum " * 4, "score": i % 1000,
                "tags": ["a", f"t{i % 7}"], "done": i % 2 == 0}  # fmt: skip

    if connection.vendor == "postgresql":
        import orjson

        columns = (
            "id, project_id, collection_id, data, acl, read_principals, write_principals, created_at, updated_at, "
            "version"
        )
        with connection.cursor() as wrapper:
            with wrapper.cursor.copy(f"COPY basalt_document ({columns}) FROM STDIN") as copy:  # noqa: S608
                for i in range(n):
                    copy.write_row((random_id(20), project.pk, collection.pk, orjson.dumps(data(i)).decode(),
                                    '{"*": {"read": true}}', '["*"]', "[]", now, now, 1))  # fmt: skip
        return owner, project, time.monotonic() - started
    for offset in range(0, n, SEED_BATCH):
        Document.objects.bulk_create(
            [
                Document(
                    id=random_id(20),
                    project=project,
                    collection=collection,
                    data=data(i),
                    acl={"*": {"read": True}},
                    read_principals=["*"],
                    write_principals=[],
                    created_at=now,
                    updated_at=now,
                )
                for i in range(offset, min(n, offset + SEED_BATCH))
            ]
        )  # fmt: skip
    return owner, project, time.monotonic() - started


def baseline(project, archive_dir: Path) -> dict:
    """The same rows moved by the database alone (see the module's docstring): seconds each way."""
    from django.db import connection

    scratch = "bench_export_baseline"
    out = archive_dir / "baseline.gz"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {scratch}")
    if connection.vendor == "postgresql":
        started = time.monotonic()
        with open(out, "wb") as sink, gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=1) as gz:
            with connection.cursor() as wrapper:
                sql = f"COPY (SELECT * FROM basalt_document WHERE project_id = {int(project.pk)}) TO STDOUT"  # noqa: S608
                with wrapper.cursor.copy(sql) as copy:
                    for block in copy:
                        gz.write(block)
        exported = time.monotonic() - started
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE {scratch} (LIKE basalt_document INCLUDING ALL)")
        started = time.monotonic()
        with connection.cursor() as wrapper, gzip.open(out, "rb") as source:
            with wrapper.cursor.copy(f"COPY {scratch} FROM STDIN") as copy:
                while chunk := source.read(1 << 20):
                    copy.write(chunk)
        imported = time.monotonic() - started
    else:
        started = time.monotonic()
        with open(out, "wb") as sink, gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=1) as gz:
            with connection.cursor() as cursor:
                cursor.execute("SELECT * FROM basalt_document WHERE project_id = %s", [project.pk])
                while rows := cursor.fetchmany(10_000):
                    gz.write("".join("\t".join(map(str, row)) + "\n" for row in rows).encode())
        exported = time.monotonic() - started
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name = 'basalt_document'")
            statements = [row[0] for row in cursor.fetchall()]
            for number, sql in enumerate(statements):
                sql = sql.replace('"basalt_document"', scratch).replace("basalt_document", scratch)
                if sql.startswith("CREATE") and " INDEX " in sql:
                    name = sql.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
                    sql = sql.replace(name, f'"{scratch}_{number}"', 1)
                cursor.execute(sql)
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {scratch} SELECT * FROM basalt_document WHERE project_id = %s", [project.pk])  # noqa: S608
        imported = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {scratch}")
    return {"export_seconds": round(exported, 2), "import_seconds": round(imported, 2)}


def cleanup(*projects) -> None:
    """Remove the bench's projects (documents first, in one statement: a million ORM deletes would not end)."""
    from django.db import connection

    for project in projects:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM basalt_document WHERE project_id = %s", [project.pk])
        project.delete()


def child(args: list[str], out_path: Path, *, parse: bool = True) -> dict:
    """Run a manage.py command; its wall time and its own peak RSS (wait4's rusage).

    posix_spawn (vfork-style) rather than fork: a forked child's peak RSS would start at this
    process's size (Linux keeps the pre-exec high-water mark), hiding the command's own."""
    started = time.monotonic()
    with out_path.open("wb") as out:
        actions = [(os.POSIX_SPAWN_DUP2, out.fileno(), 1)]
        pid = os.posix_spawn(sys.executable, [sys.executable, str(ROOT / "manage.py"), *args], os.environ,
                             file_actions=actions)  # fmt: skip
        _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - started
    text = out_path.read_text()
    if status != 0:
        raise SystemExit(f"{args[0]} failed ({status}): {text[-2000:]}")
    result = json.loads(text) if parse else None
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "result": result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="documents to seed, export and import")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="basalt-export-bench-") as tmp:
        setup(str(Path(tmp) / "data"))
        owner, project, seeded = seed(args.n)
        from basalt.projects.services import create_project

        target = create_project(owner, "Export bench target")
        archive = Path(tmp) / "bench.basalt.tar.gz"
        try:
            startup = child(["check"], Path(tmp) / "check.txt", parse=False)["seconds"]
            exported = child(
                ["export_project", "--ref", project.ref, "--output", str(archive), "--quiet"],
                Path(tmp) / "export.json",
            )
            imported = child(
                ["import_project", "--ref", target.ref, "--input", str(archive), "--new-ids", "--quiet"],
                Path(tmp) / "import.json",
            )
            assert imported["result"]["counts"]["documents"] == args.n
            base = baseline(project, Path(tmp))
        finally:
            cleanup(project, target)
        n = args.n
        print(
            json.dumps(
                {
                    "documents": n,
                    "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()],
                    "seed_seconds": round(seeded, 1),
                    "archive_mib": round(archive.stat().st_size / 2**20, 1),
                    "startup_seconds": startup,
                    "export_seconds": exported["seconds"],
                    "export_docs_per_second": round(n / exported["seconds"]),
                    "export_peak_rss_mib": exported["peak_rss_mib"],
                    "import_seconds": imported["seconds"],
                    "import_docs_per_second": round(n / imported["seconds"]),
                    "import_peak_rss_mib": imported["peak_rss_mib"],
                    "baseline": base,
                    "export_vs_baseline": round(exported["seconds"] / max(base["export_seconds"], 0.01), 2),
                    "import_vs_baseline": round(imported["seconds"] / max(base["import_seconds"], 0.01), 2),
                    "bench_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

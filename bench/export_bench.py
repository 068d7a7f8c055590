"""Project export and import of N documents: seconds and peak RSS of each (issue 14's speed table).

Seeds a project with N documents (bulk rows, as a restored project would hold), then runs
`manage.py export_project` and `manage.py import_project --new-ids` (into an empty project of the
same install) as child processes and reads each one's own peak RSS from wait4(). The target:
export ≤ 60 s, import ≤ 120 s, RSS < 500 MiB at N = 1,000,000.

    python bench/export_bench.py --n 100000                 # embedded default (SQLite, temp data dir)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_bench python bench/export_bench.py --n 1000000

Prints one JSON object. Do not run the 1,000,000 case on a machine shared with test runs.
"""

from __future__ import annotations

import argparse
import json
import os
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
    for offset in range(0, n, SEED_BATCH):
        Document.objects.bulk_create(
            [
                Document(
                    id=random_id(20),
                    project=project,
                    collection=collection,
                    data={"title": f"item {i} " + "lorem ipsum " * 4, "score": i % 1000, "tags": ["a", f"t{i % 7}"],
                          "done": i % 2 == 0},
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


def child(args: list[str], out_path: Path) -> dict:
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
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1), "result": json.loads(text)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="documents to seed, export and import")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="basalt-export-bench-") as tmp:
        setup(str(Path(tmp) / "data"))
        owner, project, seeded = seed(args.n)
        from basalt.projects.services import create_project

        target = create_project(owner, "Export bench target")
        archive = Path(tmp) / "bench.basalt.tar.gz"
        exported = child(
            ["export_project", "--ref", project.ref, "--output", str(archive), "--quiet"], Path(tmp) / "export.json"
        )
        imported = child(
            ["import_project", "--ref", target.ref, "--input", str(archive), "--new-ids", "--quiet"],
            Path(tmp) / "import.json",
        )
        assert imported["result"]["counts"]["documents"] == args.n
        print(
            json.dumps(
                {
                    "documents": args.n,
                    "database": os.environ.get("DATABASE_URL", "sqlite").split("@")[-1],
                    "seed_seconds": round(seeded, 1),
                    "archive_mib": round(archive.stat().st_size / 2**20, 1),
                    "export_seconds": exported["seconds"],
                    "export_peak_rss_mib": exported["peak_rss_mib"],
                    "import_seconds": imported["seconds"],
                    "import_peak_rss_mib": imported["peak_rss_mib"],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

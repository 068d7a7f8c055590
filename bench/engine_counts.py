"""Time `run_find` for the anchors' count and ACL-query requests in process (parse, compile, execute;
no HTTP) on an existing database, e.g. the one `anchors.py` leaves behind: collection `posts`, its
project's `users` as the signed-in principals.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_anchor_basalt BASALT_DATA_DIR=$(mktemp -d) \
        python bench/engine_counts.py [TREE] ["count all secret" ...]

TREE (default: this checkout) is the Basalt source tree to import, so a tree before a change runs
on the same database; prints the least and the median wall time of 15 batches of 100 calls, and the
least process CPU.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")

CASES = {
    "count score>X user": ({"where": {"score": {"$gt": 450}}, "count": True, "limit": 1}, True),
    "count all user": ({"where": {}, "count": True, "limit": 1}, True),
    "count all secret": ({"where": {}, "count": True, "limit": 1}, False),
    "find user": ({"where": {"score": {"$gt": 450}}, "order": "-score", "limit": 20}, True),
    "find secret": ({"where": {"score": {"$gt": 450}}, "order": "-score", "limit": 20}, False),
}


def main() -> None:
    import django

    django.setup()
    from basalt.documents.finding import project_limits
    from basalt.documents.models import Collection, Document
    from basalt.documents.query import parse_query, run_find

    coll = Collection.objects.filter(name="posts").order_by("-id").first()
    users = list(
        Document.objects.filter(collection__project=coll.project_id, collection__name="users").values_list(
            "id", flat=True
        )
    )
    limits = project_limits(coll.project)
    only = sys.argv[2:]
    for name, (raw, as_user) in CASES.items():
        if only and name not in only:
            continue
        walls, cpus = [], []
        for _ in range(15):
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(100):
                principals = frozenset({"*", "authenticated", users[i % len(users)]}) if as_user else None
                run_find(coll, parse_query(coll, raw, limits), principals)
            walls.append((time.perf_counter() - wall) * 10)
            cpus.append((time.process_time() - cpu) * 10)
        walls.sort()
        print(f"{name:20s} wall min {walls[0]:.3f} med {walls[7]:.3f} ms; cpu min {min(cpus):.3f} ms")


if __name__ == "__main__":
    main()

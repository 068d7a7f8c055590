"""Why a signed-in user's find costs PostgreSQL more than the secret key's: the plan it runs on.

Takes the database `documents_bench.py --as-user --state FILE` seeded and kept (a fifth of the
documents each public, for role r1, for r2/r3, the user's own, another role's), compiles the bench's
find (`where={"tag": "t7"}`, `order=-n`, `limit=20`) as the engine does for the secret key and for the
user (principals `authenticated`, the user, `role:r1..r3`), and runs each statement N times,
prepared, on one connection, as a pooled request thread would. Prints the PostgreSQL backend's CPU
per statement for: the secret key; the user as compiled (the principals a parameter); the user with
the principals written into the text; the user with PostgreSQL told to keep its generic plan.

    python bench/documents_bench.py --docs 20000 --duration 6 --as-user --only find_user --state /tmp/docs20k.json
    python bench/user_find_plans.py --state /tmp/docs20k.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "platform"))

from proc_cpu import cpu_seconds  # noqa: E402  (bench/, the script's own folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", required=True, help="documents_bench.py's --state file")
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    state = json.loads(Path(args.state).read_text())
    dsn = f"postgresql://postgres@127.0.0.1:5432/{state['db']}"
    os.environ.update(DATABASE_URL=dsn, DJANGO_SETTINGS_MODULE="basalt.settings", SECRET_KEY="bench-only")
    os.environ.setdefault("BASALT_DATA_DIR", "/tmp")

    import django

    django.setup()
    import psycopg
    from django.db import connection

    from basalt.core.caller import Caller
    from basalt.documents.finding import find_documents
    from basalt.projects.models import Project

    project = Project.objects.get(ref=state["keys"]["ref"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM basalt_end_user WHERE project_id = %s", [project.id])
        user_id = cursor.fetchone()[0]
    roles = frozenset({"r1", "r2", "r3"})
    callers = {
        "secret": Caller(project=project, key_kind="secret", key_id="bench"),
        "user": Caller(project=project, key_kind="publishable", key_id="bench", user_id=user_id, roles=roles),
    }
    statements = {}
    for name, caller in callers.items():
        seen = []

        def capture(execute, sql, params, many, context, seen=seen):
            seen.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            find_documents(caller, "items", {"where": {"tag": "t7"}, "order": "-n", "limit": 20})
        statements[name] = seen[-1]
    user_sql, (principals, tag) = statements["user"]
    literal = "'{" + ",".join(principals) + "}'::text[]"  # generated ids and role names: no quoting needed
    forms = {
        "secret key": (*statements["secret"], ""),
        "user, principals a parameter": (user_sql, [principals, tag], ""),
        "user, principals in the text": (user_sql.replace("%s::text[]", literal, 1), [tag], ""),
        "user, generic plan kept": (user_sql, [principals, tag], "-c plan_cache_mode=force_generic_plan"),
    }
    print(f"{state['db']}: {args.n} executions each, prepared, one connection; backend CPU per statement")
    results = {}
    for _ in range(2):  # twice, interleaved: the second round is the one printed
        for name, (sql, params, options) in forms.items():
            with psycopg.connect(dsn, autocommit=True, options=options) as conn:
                pid = conn.info.backend_pid
                cursor = conn.cursor()
                for _ in range(10):  # psycopg prepares at the 5th; PostgreSQL decides at the 6th
                    cursor.execute(sql, params, prepare=True).fetchall()
                cpu, started = cpu_seconds(pid), time.perf_counter()
                for _ in range(args.n):
                    cursor.execute(sql, params, prepare=True).fetchall()
                results[name] = ((cpu_seconds(pid) - cpu) / args.n, (time.perf_counter() - started) / args.n)
    base = results["secret key"][0]
    for name, (cpu, wall) in results.items():
        print(f"  {name:32} {cpu * 1000:.3f} ms CPU ({cpu / base:.2f} of the secret key's), {wall * 1000:.3f} ms wall")


if __name__ == "__main__":
    main()

"""Creates in one project, 16 clients: the change log's old per-project sequencer against the new one,
in the same run as pgbench insert (issue 9, "the change log no longer serialises a project's writes").

Two levels, both on the same PostgreSQL in the same run, so the printed ratios hold on a noisy host:

1. SQL only (pgbench custom scripts, 16 clients, one project): a create's transaction with the old
   change-log statement (bump the project's counter row, insert the row with that seq; the row
   stays locked until commit) and with the new one (insert the row without a seq; after commit,
   the sequencer's one call, migration 0004's function built on these tables), next to
   pgbench's plain single-row insert.
2. HTTP (wrk, 16 connections, POST /collections/items/documents): Basalt in its production shape
   (granian 2 × 8 threads) from the tree before the change (`git archive` of the commit before
   migration 0004, or --before-rev) and from this tree, each on a fresh database.

    python bench/changelog_bench.py --duration 15
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import documents_bench as docs  # noqa: E402  (the bench helpers: psql, wrk, pgbench, granian argv)

ROOT = docs.ROOT
MIGRATION_PATH = "platform/basalt/documents/migrations/0004_change_seq_after_commit.py"


def _migration():
    """The app's migration 0004, for the sequencer function's definition (one source)."""
    spec = importlib.util.spec_from_file_location("change_seq_after_commit", ROOT / MIGRATION_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SQL_SETUP = """
DROP TABLE IF EXISTS cl_doc, cl_log_old, cl_log_new, cl_project CASCADE;
CREATE TABLE cl_project (id bigint PRIMARY KEY, change_seq bigint NOT NULL DEFAULT 0);
INSERT INTO cl_project VALUES (1, 0), (2, 0);  -- old sequencer: project 1, new: project 2
CREATE TABLE cl_doc (id bigserial PRIMARY KEY, project_id bigint, data jsonb);
CREATE TABLE cl_log_old (id bigserial PRIMARY KEY, project_id bigint, seq bigint, collection varchar(63) DEFAULT 'i',
  document_id varchar(32) DEFAULT 'x', type varchar(8) DEFAULT 'create', before jsonb, after jsonb,
  created_at timestamptz, UNIQUE (project_id, seq));
CREATE TABLE cl_log_new (LIKE cl_log_old INCLUDING ALL);
CREATE INDEX cl_unnumbered ON cl_log_new (project_id, id) WHERE seq IS NULL;
"""
# The same statements the app sends for a create (document, then its change-log row).
SQL_OLD = """\\set v random(1, 100000)
BEGIN;
INSERT INTO cl_doc (project_id, data) VALUES (1, jsonb_build_object('n', :v));
WITH s AS (UPDATE cl_project SET change_seq = change_seq + 1 WHERE id = 1 RETURNING change_seq)
  INSERT INTO cl_log_old (project_id, seq, after, created_at)
  SELECT 1, s.change_seq, jsonb_build_object('n', :v), now() FROM s;
COMMIT;
"""
NUMBER_NEW = "SELECT count(*) FROM cl_number(2, 5000)"  # the sequencer's one call, after commit
SQL_NEW = (
    """\\set v random(1, 100000)
BEGIN;
INSERT INTO cl_doc (project_id, data) VALUES (2, jsonb_build_object('n', :v));
INSERT INTO cl_log_new (project_id, after, created_at) VALUES (2, jsonb_build_object('n', :v), now());
COMMIT;
"""
    + NUMBER_NEW
    + ";\n"
)


def pgbench_script(db: str, sql: str, duration: int, clients: int) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(sql)
    try:
        out = subprocess.run(
            ["pgbench", "-h", docs.HOST, "-U", "postgres", "-n", "-c", str(clients), "-j", "2"]
            + ["-T", str(duration), "-f", script.name, db],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def gap_free(db: str, table: str) -> bool:
    count, top = docs.psql(db, f"SELECT count(*), coalesce(max(seq), 0) FROM {table}").split("|")
    return count == top and docs.psql(db, f"SELECT count(*) FROM {table} WHERE seq IS NULL") == "0"


def before_tree(rev: str | None) -> Path:
    if rev is None:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", MIGRATION_PATH],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        if not added:
            raise SystemExit(f"{MIGRATION_PATH} is not committed; pass --before-rev")
        rev = f"{added[-1]}^"
    target = Path(tempfile.mkdtemp(prefix="basalt-before-"))
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def http_creates(tree: Path, db: str, duration: int, connections: int, workers: int) -> dict:
    data_dir = tempfile.mkdtemp(prefix="basalt-bench-")
    env = docs.base_env(db, data_dir, 10)
    env["PYTHONPATH"] = str(tree / "platform")
    docs.recreate_database(db)
    manage = [sys.executable, str(tree / "manage.py")]
    # cwd: the tree's own `console` package, not the one of the directory the bench ran from.
    migrated = subprocess.run(
        [*manage, "migrate", "--verbosity", "0"], env=env, cwd=tree, capture_output=True, text=True
    )
    if migrated.returncode:
        raise SystemExit(f"migrating {tree} failed:\n{migrated.stderr[-3000:]}")
    keys = json.loads(
        subprocess.run(
            [*manage, "create_project", "--owner", "bench@example.com", "--name", "bench"],
            env=env,
            cwd=tree,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    secret = keys["secret_key"]["key"]
    port = docs.free_port()
    proc = subprocess.Popen(docs.server_argv("granian", port, workers), env=env, cwd=tree, start_new_session=True)
    try:
        docs.wait_ready(port, proc)
        fields = {"title": {"type": "string"}, "tag": {"type": "string"}, "n": {"type": "number"}}
        status, body = docs.request(
            port, "POST", "/api/v1/schema/collections", secret, {"name": "items", "fields": fields}
        )
        assert status == 201, (status, body)
        script = docs.lua_create(secret)
        docs.wrk(port, script, 3, connections)  # warm-up
        result = docs.wrk(port, script, duration, connections)
        result["gap_free"] = gap_free(db, "basalt_change_log")
        return result
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        docs.psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--before-rev", help="git revision of the old sequencer (default: before migration 0004)")
    parser.add_argument("--sql-only", action="store_true")
    args = parser.parse_args()
    if not shutil.which("pgbench") or (not args.sql_only and not shutil.which("wrk")):
        raise SystemExit("needs pgbench and wrk on PATH (apt-get install postgresql-client wrk)")

    pgb = "basalt_bench_changelog"
    docs.recreate_database(pgb)
    results: dict[str, float | dict] = {}
    try:
        results["pgbench_insert"] = docs.pgbench(pgb, args.duration, args.connections)["insert"]
        docs.psql(pgb, SQL_SETUP)
        docs.psql(pgb, _migration().number_function_sql("cl_number", "cl_log_new", "cl_project"))
        results["sql_old"] = pgbench_script(pgb, SQL_OLD, args.duration, args.connections)
        results["sql_new"] = pgbench_script(pgb, SQL_NEW, args.duration, args.connections)
        docs.psql(pgb, NUMBER_NEW)  # the sweep: rows a holder's last pass did not see
        assert gap_free(pgb, "cl_log_old") and gap_free(pgb, "cl_log_new")
    finally:
        docs.psql("postgres", f"DROP DATABASE IF EXISTS {pgb} WITH (FORCE)")
    if not args.sql_only:
        old_tree = before_tree(args.before_rev)
        try:
            shape = (args.duration, args.connections, args.workers)
            results["http_old"] = http_creates(old_tree, "basalt_bench_cl_old", *shape)
            results["http_new"] = http_creates(ROOT, "basalt_bench_cl_new", *shape)
        finally:
            shutil.rmtree(old_tree, ignore_errors=True)

    base = results["pgbench_insert"]
    print(f"\n16 clients, one project, {args.duration}s each; load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'what':<34}{'per s':>9}{'of pgbench insert':>19}{'new / old':>11}")
    print(f"{'pgbench insert (yardstick)':<34}{base:>9.0f}{1:>19.3f}")
    print(f"{'SQL: create, old sequencer':<34}{results['sql_old']:>9.0f}{results['sql_old'] / base:>19.3f}")
    new_sql, ratio = results["sql_new"], results["sql_new"] / results["sql_old"]
    print(f"{'SQL: create, seq at commit':<34}{new_sql:>9.0f}{new_sql / base:>19.3f}{ratio:>11.2f}")
    if not args.sql_only:
        old, new = results["http_old"], results["http_new"]
        for label, row in (("HTTP: create, old sequencer", old), ("HTTP: create, seq at commit", new)):
            extra = f"  p95 {row['p95_ms']:.1f} ms, errors {row['errors'] + row['non2xx']}, gap-free {row['gap_free']}"
            ratio = f"{new['rps'] / old['rps']:>11.2f}" if row is new else " " * 11
            print(f"{label:<34}{row['rps']:>9.0f}{row['rps'] / base:>19.3f}{ratio}{extra}")


if __name__ == "__main__":
    main()

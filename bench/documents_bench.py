"""Benchmark the documents API against a running production-configured Basalt, with pgbench as the yardstick.

The load comes from `wrk` (a separate C process; `apt-get install wrk`), the baseline from `pgbench`
on the same PostgreSQL in the same run, so the printed ratios hold on a noisy machine. Everything
talks to 127.0.0.1 only and every phase is bounded in time.

    python bench/documents_bench.py --docs 100000 --duration 15
    python bench/documents_bench.py --docs 1000000 --only find   # the p95-at-1M target
    # 10,000,000 documents: seed once (about 15 min here), then measure as often as needed
    python bench/documents_bench.py --docs 10000000 --as-user --state /tmp/docs10m.json --seed-only
    python bench/documents_bench.py --state /tmp/docs10m.json --only find --only find_user

Steps: fresh database → migrate → project + keys → collection → documents seeded in SQL →
declared index built (CONCURRENTLY, by the app's own job) → server started (gunicorn/uvicorn or the
command given) → pgbench insert and select-only → wrk on create, get, find → a paced run at half
the measured maximum for p99.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_server as load  # noqa: E402  (bench/, this script's own folder)
from proc_cpu import cpu_seconds, tree_cpu_seconds  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PG = ["psql", "-h", HOST, "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-qAt"]

WRK_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, '
    .. '"p50": %d, "p95": %d, "p99": %d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def psql(db: str, sql: str) -> str:
    done = subprocess.run([*PG, "-d", db, "-c", sql], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"psql failed: {done.stderr.strip()[:500]}")
    return done.stdout.strip()


def recreate_database(name: str) -> None:
    psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {name}")


def base_env(db: str, data_dir: str, pool: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BASALT_PROFILE="production",
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS=HOST,
        DEBUG="false",
        DATABASE_URL=f"postgres://postgres@{HOST}:5432/{db}",
        REDIS_URL=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        BASALT_DATA_DIR=data_dir,
        PYTHONPATH=str(ROOT / "platform"),
        LOG_LEVEL="WARNING",
        DATABASE_POOL_SIZE=str(pool),
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def request(
    port: int, method: str, path: str, key: str, body: dict | None = None, token: str | None = None
) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", data=data, method=method)
    req.add_header("X-API-Key", key)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 (loopback only)
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else {}
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def server_argv(kind: str, port: int, workers: int) -> list[str]:
    if kind == "gunicorn":
        return [
            str(BIN / "gunicorn"),
            "basalt.wsgi:application",
            "-b",
            f"{HOST}:{port}",
            "-w",
            str(workers),
            "--worker-class",
            "sync",
            "--keep-alive",
            "30",
            "--access-logfile",
            "/dev/null",
            "--log-level",
            "warning",
        ]
    if kind == "gthread":
        return [
            str(BIN / "gunicorn"),
            "basalt.wsgi:application",
            "-b",
            f"{HOST}:{port}",
            "-w",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            "4",
            "--keep-alive",
            "30",
            "--access-logfile",
            "/dev/null",
        ]
    if kind == "uvicorn":
        return load.candidates(port, workers)["uvicorn"].argv  # http_server.py's (2 × uvloop + httptools)
    if kind == "granian":
        # The production web server (docker/entrypoint.sh), minus its access log.
        return load.granian_wsgi("basalt.wsgi:application", port, workers, os.environ.get("WEB_THREADS", "4"))
    raise SystemExit(f"unknown server {kind}")


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=2):  # noqa: S310
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not become ready")


# Mixed ACLs for the signed-in scenario: a fifth of the documents each readable by everyone, by
# role r1, by roles r2/r3, by the bench user alone, and by a role the user does not hold.
MIXED_ACL_SQL = """CASE (g / 100) % 5
  WHEN 0 THEN '{{"*": {{"read": true}}}}'::jsonb
  WHEN 1 THEN '{{"role:r1": {{"read": true}}}}'::jsonb
  WHEN 2 THEN '{{"role:r2": {{"read": true}}, "role:r3": {{"read": true}}}}'::jsonb
  WHEN 3 THEN '{{"{uid}": {{"read": true, "write": true}}}}'::jsonb
  ELSE '{{"role:outsiders": {{"read": true}}}}'::jsonb END"""
MIXED_READERS_SQL = """CASE (g / 100) % 5
  WHEN 0 THEN '["*"]'::jsonb WHEN 1 THEN '["role:r1"]'::jsonb WHEN 2 THEN '["role:r2", "role:r3"]'::jsonb
  WHEN 3 THEN '["{uid}"]'::jsonb ELSE '["role:outsiders"]'::jsonb END"""


def seed_documents(db: str, collection_id: int, project_id: int, count: int, user_id: str | None = None) -> None:
    """Insert documents in SQL batches in the app's stored form (much faster than the API)."""
    acl, readers, writers = "'{}'::jsonb", "'[]'::jsonb", "'[]'::jsonb"
    if user_id:
        acl = MIXED_ACL_SQL.format(uid=user_id)
        readers = MIXED_READERS_SQL.format(uid=user_id)
        writers = f"CASE (g / 100) % 5 WHEN 3 THEN '[\"{user_id}\"]'::jsonb ELSE '[]'::jsonb END"
    batch = 200_000
    for start in range(0, count, batch):
        stop = min(count, start + batch)
        psql(
            db,
            "INSERT INTO basalt_document (id, project_id, collection_id, data, acl, read_principals, "
            "write_principals, created_by, created_at, updated_at, version) "
            f"SELECT substr(md5('doc' || g::text), 1, 20), {project_id}, {collection_id}, "
            "jsonb_build_object('title', 'item ' || g, 'tag', 't' || (g % 100), 'n', (g::bigint * 7919) % 100000), "
            f"{acl}, {readers}, {writers}, NULL, now() - g * interval '1 ms', now() - g * interval '1 ms', 1 "
            f"FROM generate_series({start + 1}, {stop}) g",
        )
    psql(db, "ANALYZE basalt_document")


BENCH_USER = {"email": "reader@example.com", "password": "a long bench passphrase 42"}


def sign_up_with_roles(port: int, publishable: str, secret: str) -> str:
    """An end-user holding roles r1, r2 and r3, and a collection only signed-in users may query."""
    status, body = request(port, "POST", "/api/v1/auth/signup", publishable, BENCH_USER)
    assert status == 201, (status, body)
    user_id = body["user"]["id"]
    for role in ("r1", "r2", "r3", "outsiders"):
        status, created = request(port, "POST", "/api/v1/roles", secret, {"name": role})
        assert status == 201, (status, created)
        if role != "outsiders":
            status, added = request(port, "POST", f"/api/v1/roles/{role}/users", secret, {"ids": [user_id]})
            assert status in (200, 201), (status, added)
    rules = {op: ["authenticated"] for op in ("get", "find", "count")}
    status, body = request(port, "PATCH", "/api/v1/schema/collections/items", secret, {"permissions": rules})
    assert status == 200, (status, body)
    return user_id


def wait_for_indexes(db: str, started: float) -> None:
    while psql(db, "SELECT count(*) FROM basalt_collection_index WHERE status <> 'ready'") != "0":
        if time.monotonic() - started > 900:
            raise SystemExit("index build did not finish")
        time.sleep(0.5)


def seed_with_index(args: argparse.Namespace, db: str, port: int, keys: dict, project_id: int) -> int:
    """The collection (and the signed-in user with roles), its documents seeded in SQL, and the
    declared index `(tag, -n)` built by the app's own job; returns the collection's id."""
    secret = keys["secret_key"]["key"]
    status, body = request(
        port,
        "POST",
        "/api/v1/schema/collections",
        secret,
        {"name": "items", "fields": {"title": {"type": "string"}, "tag": {"type": "string"}, "n": {"type": "number"}}},
    )
    assert status == 201, (status, body)
    user_id = sign_up_with_roles(port, keys["publishable_key"]["key"], secret) if args.as_user else None
    collection_id = int(
        psql(db, f"SELECT id FROM basalt_collection WHERE project_id = {project_id} AND name = 'items'")
    )
    started = time.monotonic()
    # The project's built-in collections have their indexes built by the app's jobs (CONCURRENTLY):
    # the seed's ANALYZE beside such a build deadlocks (each waits for the other's lock).
    wait_for_indexes(db, started)
    seed_documents(db, collection_id, project_id, args.docs, user_id)
    print(f"seeded {args.docs} documents in {time.monotonic() - started:.1f}s", flush=True)
    started = time.monotonic()
    status, body = request(
        port, "PATCH", "/api/v1/schema/collections/items", secret, {"indexes": [{"fields": ["tag", "-n"]}]}
    )
    assert status == 200, (status, body)
    wait_for_indexes(db, started)
    psql(db, "ANALYZE basalt_document")
    print(f"index ready in {time.monotonic() - started:.1f}s", flush=True)
    return collection_id


def wrk(port: int, lua: str, duration: int, connections: int, threads: int = 2) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua + WRK_REPORT)
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{duration}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                f"http://{HOST}:{port}",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"WRKJSON (\{.*\})", out)
    if not match:
        raise SystemExit(f"wrk printed no report:\n{out}")
    stats = json.loads(match.group(1))
    seconds = stats["duration_us"] / 1e6
    return {
        "requests": stats["requests"],
        "rps": stats["requests"] / seconds,
        "p50_ms": stats["p50"] / 1000,
        "p95_ms": stats["p95"] / 1000,
        "p99_ms": stats["p99"] / 1000,
        "errors": stats["errors"],
        "non2xx": stats["non2xx"],
    }


def lua_create(key: str) -> str:
    return f"""
wrk.method = "POST"
wrk.headers["X-API-Key"] = "{key}"
wrk.headers["Content-Type"] = "application/json"
counter = 0
request = function()
  counter = counter + 1
  local body = '{{"title": "bench ' .. counter .. '", "tag": "t' .. (counter % 100)
    .. '", "n": ' .. (counter % 100000) .. '}}'
  return wrk.format(nil, "/api/v1/collections/items/documents", nil, body)
end
"""


def lua_get(key: str, ids_file: str) -> str:
    return f"""
wrk.headers["X-API-Key"] = "{key}"
ids = {{}}
for line in io.lines("{ids_file}") do ids[#ids + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/v1/collections/items/documents/" .. ids[math.random(#ids)])
end
"""


def lua_find(key: str, token: str | None = None) -> str:
    # where={"tag":"tN"}&order=-n&limit=20, URL-encoded; N varies so the cache of one answer doesn't help
    bearer = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    return f"""
wrk.headers["X-API-Key"] = "{key}"
{bearer}
math.randomseed(os.time())
request = function()
  local tag = math.random(0, 99)
  return wrk.format("GET", "/api/v1/collections/items/documents?where=%7B%22tag%22%3A%22t" .. tag ..
    "%22%7D&order=-n&limit=20")
end
"""


def paced(lua: str, rate: float, connections: int) -> str:
    """Make each connection wait so the total rate is about `rate` req/s (wrk has no -R)."""
    delay_ms = max(1, int(connections * 1000 / rate))
    return lua + f"\ndelay = function() return {delay_ms} end\n"


def pgbench(db: str, duration: int, clients: int) -> dict[str, float]:
    subprocess.run(
        ["pgbench", "-h", HOST, "-U", "postgres", "-i", "-q", "-s", "10", db], check=True, capture_output=True
    )
    psql(
        db,
        "DROP TABLE IF EXISTS bench_insert; CREATE TABLE bench_insert (id bigserial PRIMARY KEY, v int, payload jsonb)",
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("\\set v random(1, 100000)\nINSERT INTO bench_insert (v, payload) VALUES (:v, '{\"a\": 1}');\n")
    results = {}
    try:
        for name, extra in (("insert", ["-f", script.name, "-n"]), ("select_only", ["-S"])):
            out = subprocess.run(
                [
                    "pgbench",
                    "-h",
                    HOST,
                    "-U",
                    "postgres",
                    "-c",
                    str(clients),
                    "-j",
                    "2",
                    "-T",
                    str(duration),
                    *extra,
                    db,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[name] = float(re.search(r"tps = ([\d.]+)", out).group(1))
    finally:
        os.unlink(script.name)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server", default=os.environ.get("BENCH_SERVER", "granian"))
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", "2")))
    parser.add_argument("--only", choices=["create", "get", "find", "find_user"], action="append")
    parser.add_argument(
        "--as-user",
        action="store_true",
        help="also find as a signed-in user holding 3 roles over documents with mixed ACLs (op find_user)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument(
        "--state",
        help="a JSON file naming a kept, seeded database: reused when it exists (no seeding), "
        "else written after seeding (implies --keep); for the 10,000,000-document run",
    )
    parser.add_argument("--seed-only", action="store_true", help="stop after seeding and the index build")
    parser.add_argument("--db-prefix", default="basalt_bench", help="databases PREFIX_docs and PREFIX_pgbench")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("pgbench"):
        raise SystemExit("needs wrk and pgbench on PATH (apt-get install wrk postgresql-client)")
    ops = args.only or ["create", "get", "find"] + (["find_user"] if args.as_user else [])
    args.as_user = args.as_user or "find_user" in ops

    db, pgb_db = f"{args.db_prefix}_docs", f"{args.db_prefix}_pgbench"
    reused = json.loads(Path(args.state).read_text()) if args.state and Path(args.state).exists() else None
    if reused:
        db, args.docs = reused["db"], reused["docs"]
        args.as_user = args.as_user and reused["as_user"]
        ops = [op for op in ops if op != "find_user" or args.as_user]
    args.keep = args.keep or bool(args.state)
    data_dir = tempfile.mkdtemp(prefix="basalt-bench-")
    pool = 4 if args.server in {"uvicorn", "gthread"} else 10
    env = base_env(db, data_dir, pool)
    if reused:
        keys = reused["keys"]
    else:
        recreate_database(db)
        manage(env, "migrate", "--verbosity", "0")
        keys = json.loads(manage(env, "create_project", "--owner", "bench@example.com", "--name", "bench"))
    secret = keys["secret_key"]["key"]
    project_id = int(psql(db, f"SELECT id FROM basalt_project WHERE ref = '{keys['ref']}'"))

    port = free_port()
    proc = subprocess.Popen(server_argv(args.server, port, args.workers), env=env, cwd=ROOT, start_new_session=True)
    # Index builds run in the worker, as in docker-compose.
    worker = subprocess.Popen(
        [str(BIN / "celery"), "-A", "basalt", "worker", "--pool", "solo", "--loglevel", "WARNING"],
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    results: dict[str, dict] = {}
    try:
        wait_ready(port, proc)
        if reused:
            collection_id = reused["collection_id"]
            print(f"reusing {db}: {args.docs} documents", flush=True)
        else:
            collection_id = seed_with_index(args, db, port, keys, project_id)
            if args.state:
                state = {"db": db, "docs": args.docs, "as_user": args.as_user, "keys": keys}
                Path(args.state).write_text(json.dumps({**state, "collection_id": collection_id}))
        if args.seed_only:
            return

        ids_file = os.path.join(data_dir, "ids.txt")
        Path(ids_file).write_text(
            psql(
                db,
                f"SELECT id FROM basalt_document WHERE collection_id = {collection_id} ORDER BY random() LIMIT 20000",
            )
            + "\n"
        )
        status, probe = request(
            port,
            "GET",
            "/api/v1/collections/items/documents?where=%7B%22tag%22%3A%22t7%22%7D&order=-n&limit=20",
            secret,
        )
        assert status == 200 and len(probe["results"]) == 20, (status, probe)

        recreate_database(pgb_db)
        baseline = pgbench(pgb_db, args.duration, args.connections)
        scripts = {"create": lua_create(secret), "get": lua_get(secret, ids_file), "find": lua_find(secret)}
        if args.as_user:
            publishable = keys["publishable_key"]["key"]
            status, login = request(port, "POST", "/api/v1/auth/login", publishable, BENCH_USER)
            assert status == 200, (status, login)
            token = login["access_token"]
            status, probe = request(
                port,
                "GET",
                "/api/v1/collections/items/documents?where=%7B%22tag%22%3A%22t7%22%7D&order=-n&limit=20&count=true",
                publishable,
                token=token,
            )
            assert status == 200 and len(probe["results"]) == 20, (status, probe)
            print(f"signed-in user sees {probe['count']} of the t7 documents", flush=True)
            scripts["find_user"] = lua_find(publishable, token)
        for op in ops:
            wrk(port, scripts[op], 3, args.connections)  # warm-up: connections, caches, JIT-less Python paths
            pids = psql(db, f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'")
            backends = [int(pid) for pid in pids.split()]
            cpu_before = tree_cpu_seconds(proc.pid), sum(map(cpu_seconds, backends))
            results[op] = wrk(port, scripts[op], args.duration, args.connections)
            # CPU per request: steadier than req/s on a shared host (the pool keeps its backends).
            served = max(results[op]["requests"], 1)
            results[op]["server_cpu_ms"] = (tree_cpu_seconds(proc.pid) - cpu_before[0]) * 1000 / served
            results[op]["db_cpu_ms"] = (sum(map(cpu_seconds, backends)) - cpu_before[1]) * 1000 / served
            half = results[op]["rps"] / 2
            results[op]["half_load"] = wrk(
                port, paced(scripts[op], half, args.connections), args.duration, args.connections
            )
    finally:
        for child in (proc, worker):
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=30)
        if not args.keep:
            recreate_database(db)
            psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql("postgres", f"DROP DATABASE IF EXISTS {pgb_db} WITH (FORCE)")
        shutil.rmtree(data_dir, ignore_errors=True)

    print(f"\nserver={args.server} workers={args.workers} docs={args.docs} connections={args.connections}")
    print(f"pgbench insert {baseline['insert']:.0f} tps, select-only {baseline['select_only']:.0f} tps")
    ratio_base = {"create": baseline["insert"], "get": baseline["select_only"], "find": None, "find_user": None}
    print(
        f"{'op':<8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'ratio':>8}"
        "   half-load: req/s p95 ms p99 ms  errors   CPU ms/req: server  db"
    )
    for op, row in results.items():
        ratio = f"{row['rps'] / ratio_base[op]:.3f}" if ratio_base[op] else "-"
        half = row["half_load"]
        print(
            f"{op:<8}{row['rps']:>9.0f}{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}{ratio:>8}"
            f"   {half['rps']:>8.0f} {half['p95_ms']:>6.1f} {half['p99_ms']:>6.1f}   {row['errors'] + row['non2xx']:>6}"
            f"   {row['server_cpu_ms']:>17.2f} {row['db_cpu_ms']:>4.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"baseline": baseline, "results": results, "args": vars(args)}, indent=2))


if __name__ == "__main__":
    main()

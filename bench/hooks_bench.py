"""Benchmark webhook delivery lag and Idempotency-Key overhead on the production shape, in one run.

    python bench/hooks_bench.py --writes 10000 --duration 10

PostgreSQL (a fresh database), Redis (BENCH_REDIS_URL), `manage.py serve --no-worker` in the
production profile and a separate `celery -A basalt worker` (threads pool), all on 127.0.0.1.

1. Idempotency-Key overhead: `wrk` creates documents without the header, then with a unique key
   per request, twice each (A B A B) in the same run; prints req/s of each and the ratio.
2. Webhook delivery lag: one endpoint (a receiver in this process) subscribed to creates; N
   writes from 8 client threads; lag = arrival at the receiver − the writer's 201. Prints median,
   p95, max, how many arrived and how many were duplicates (at-least-once).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from proc_cpu import cpu_seconds, tree_cpu_seconds  # noqa: E402

from tests.contract import live  # noqa: E402

HOST = "127.0.0.1"
DB = "basalt_bench_hooks"
COLLECTION = {
    "name": "events",
    "fields": {"title": {"type": "string"}, "n": {"type": "number"}},
    "permissions": {op: ["*"] for op in ("get", "find", "count", "create")},
    "default_acl": "public",
}
WRK_SCRIPT = """
local counter = 0
local tid = 0
local threads = {}
setup = function(thread) tid = tid + 1; thread:set("tid", tid) end
request = function()
  counter = counter + 1
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = __APIKEY__}
  if __USEKEY__ then headers["Idempotency-Key"] = __RUN__ .. "-" .. tid .. "-" .. counter end
  return wrk.format("POST", "/api/v1/collections/events/documents", headers, '{"title":"bench","n":1}')
end
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "errors": %d, "non2xx": %d, "p50": %d}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50)))
end
"""


def psql(db: str, sql: str) -> str:
    done = subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-qAt", "-d", db, "-c", sql], check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout


def cpu_now(server_pid: int, db: str) -> tuple[float, float]:
    """CPU seconds so far of the server's process tree and of the database's backends (the pool keeps
    them for the whole run, so a difference over a cell is that cell's database CPU)."""
    backends = [int(p) for p in psql(db, f"SELECT pid FROM pg_stat_activity WHERE datname = '{db}'").split()]
    return tree_cpu_seconds(server_pid), sum(map(cpu_seconds, backends))


def wrk(url: str, key: str, use_key: bool, duration: int, run: str) -> dict:
    script = WRK_SCRIPT.replace("__APIKEY__", json.dumps(key)).replace("__USEKEY__", "true" if use_key else "false")
    script = script.replace("__RUN__", json.dumps(run))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{duration}s", "-s", f.name, url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
    )
    out = out.stdout + out.stderr
    found = re.search(r"WRKJSON (\{.*\})", out)
    if not found:
        raise SystemExit(f"wrk printed no result:\n{out[-2000:]}")
    result = json.loads(found.group(1)) if found else {"requests": 0, "duration_us": 1, "errors": -1, "non2xx": -1}
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


class Arrivals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.at: dict[str, float] = {}
        self.duplicates = 0


def receiver(arrivals: Arrivals) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            now = time.monotonic()
            doc_id = json.loads(body)["data"]["id"]
            with arrivals.lock:
                if doc_id in arrivals.at:
                    arrivals.duplicates += 1
                else:
                    arrivals.at[doc_id] = now
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writes", type=int, default=10000)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--db", default=DB, help="the PostgreSQL database to (re)create for the run")
    parser.add_argument("--rounds", type=int, default=2, help="A B rounds of the Idempotency-Key cells")
    parser.add_argument("--idempotency-only", action="store_true", help="skip the webhook delivery part")
    args = parser.parse_args()
    db = args.db

    psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql("postgres", f"CREATE DATABASE {db}")
    data = Path(tempfile.mkdtemp(prefix="hooks-bench-"))
    overrides = {
        "BASALT_PROFILE": "production",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"postgres://postgres@{HOST}:5432/{db}",
        "DATABASE_POOL_SIZE": "8",
        "REDIS_URL": args.redis,
        "CELERY_TASK_ALWAYS_EAGER": None,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "LOG_LEVEL": "WARNING",
    }
    live.START_TIMEOUT = 600.0  # a loaded host migrates slowly
    saved = os.environ.pop("DATABASE_URL", None)
    server = live.start(data / "data", overrides, args=("--no-worker",))
    if saved:
        os.environ["DATABASE_URL"] = saved
    env = {**server.env, "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}"}
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "basalt", "worker", "--pool", "threads",
         "--concurrency", "4", "--without-gossip", "--without-mingle", "-l", "WARNING"],
        env=env, cwd=ROOT, stdout=(data / "worker.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    arrivals = Arrivals()
    hook_server = receiver(arrivals)
    try:
        project = live.make_project(server.url, "Bench")
        live.create_collection(project, COLLECTION)
        load = subprocess.run(["cat", "/proc/loadavg"], capture_output=True, text=True).stdout.split()[:3]
        print(f"host load average before: {' '.join(load)}")

        # 1. Idempotency-Key overhead, A B A B.
        url = f"{server.url}/api/v1/collections/events/documents"
        cells = {"plain": [], "keyed": []}
        for round_ in range(args.rounds):
            for name in ("plain", "keyed"):
                before = cpu_now(server.process.pid, db)
                result = wrk(server.url, project.secret, name == "keyed", args.duration, f"r{round_}{time.time_ns()}")
                after = cpu_now(server.process.pid, db)
                result["server_ms"] = (after[0] - before[0]) * 1000 / max(result["requests"], 1)
                result["db_ms"] = (after[1] - before[1]) * 1000 / max(result["requests"], 1)
                cells[name].append(result)
                print(f"  {name:6} {result['rps']:8.1f} req/s  p50 {result['p50'] / 1000:.1f} ms  "
                      f"CPU per request: server {result['server_ms']:.2f} ms, database {result['db_ms']:.2f} ms  "
                      f"errors {result['errors']} non2xx {result['non2xx']}")  # fmt: skip
        plain = statistics.mean(r["rps"] for r in cells["plain"])
        keyed = statistics.mean(r["rps"] for r in cells["keyed"])
        print(f"idempotency: without key {plain:.1f} req/s, with key {keyed:.1f} req/s, "
              f"overhead {(1 - keyed / plain) * 100:.1f}% (target ≤ 10%)")  # fmt: skip
        for part in ("server_ms", "db_ms"):
            a = statistics.mean(r[part] for r in cells["plain"])
            b = statistics.mean(r[part] for r in cells["keyed"])
            change = (b / a - 1) * 100
            print(f"  CPU per request ({part[:-3]}): without key {a:.2f} ms, with key {b:.2f} ms ({change:+.1f}%)")
        stats = "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'basalt_idempotency_record'"
        hot = psql(db, stats)
        print(f"  idempotency record updates / of them HOT: {hot.strip()}")
        del url
        if args.idempotency_only:
            return

        # 2. Webhook delivery lag.
        with httpx.Client(base_url=server.url, timeout=30) as http:
            http.headers["Authorization"] = f"Bearer {project.owner_token}"
            hook_url = f"http://{HOST}:{hook_server.server_address[1]}/hook"
            r = http.post(f"/api/v1/manage/projects/{project.ref}/webhooks",
                          json={"url": hook_url, "events": ["documents.create"]})  # fmt: skip
            assert r.status_code == 201, r.text
        acked: dict[str, float] = {}
        ack_lock = threading.Lock()

        def write(chunk: range) -> None:
            with httpx.Client(base_url=server.url, timeout=60, headers={"X-API-Key": project.secret}) as http:
                for n in chunk:
                    response = http.post("/api/v1/collections/events/documents", json={"title": "hook", "n": n})
                    now = time.monotonic()
                    if response.status_code == 201:
                        with ack_lock:
                            acked[response.json()["id"]] = now

        started = time.monotonic()
        per = args.writes // 8
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, [range(i * per, (i + 1) * per) for i in range(8)]))
        wrote = time.monotonic() - started
        print(f"webhooks: {len(acked)} writes acknowledged in {wrote:.1f} s ({len(acked) / wrote:.0f}/s)")
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            with arrivals.lock:
                if all(doc in arrivals.at for doc in acked):
                    break
            time.sleep(0.5)
        with arrivals.lock:
            lags = sorted(arrivals.at[d] - acked[d] for d in acked if d in arrivals.at)
            dupes = arrivals.duplicates
        if lags:
            p95 = lags[int(len(lags) * 0.95) - 1]
            print(f"webhooks: delivered {len(lags)}/{len(acked)}, duplicates {dupes}; lag median "
                  f"{statistics.median(lags):.3f} s, p95 {p95:.3f} s, max {lags[-1]:.3f} s "
                  f"(targets: median < 1 s, p95 < 3 s)")  # fmt: skip
        load = subprocess.run(["cat", "/proc/loadavg"], capture_output=True, text=True).stdout.split()[:3]
        print(f"host load average after: {' '.join(load)}")
    finally:
        hook_server.shutdown()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        live.stop(server)
        psql("postgres", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


if __name__ == "__main__":
    main()

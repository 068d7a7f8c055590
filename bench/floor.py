"""The floor under issue 10's peer targets: how fast can any Python server be on this machine?

One run drives the same two requests (a get by id and a create of a small JSON document, 16
keep-alive clients, this repository's raw-socket load generator) against:

- the peer: Parse Server 9.10 (`parse`, PostgreSQL) or PocketBase 0.40 (`pocketbase`, SQLite),
  started by `../shared/anchors/`, with its admin credential (master key / superuser token);
- Basalt: the production profile (granian 2 × 4 + Celery, PostgreSQL + Redis) or the embedded
  default (`manage.py serve`, SQLite), with the secret key;
- two floors that do only the database work under the same server Basalt uses (granian WSGI):
  `raw` (bench/floor_apps/raw_app.py: a WSGI callable, one prepared statement on a per-thread
  connection, no framework, no auth, no ACL, no change log) and `django` (bench/floor_apps/
  django_app.py: the same through Django's handler with no middleware).

A floor that does not reach a target ratio against the peer shows the target is out of reach for
a Python server on this host, whatever Basalt's own code does; the gap between the floors and
Basalt is what Basalt's code costs. Rounds are interleaved and each cell reports op/s, p50/p95,
and CPU per operation of the server's process tree, of its PostgreSQL backends, and of the
whole machine.

    python bench/floor.py parse --redis redis://127.0.0.1:6379/10 [--rounds 3 --duration 5] \
        [--basalt-shape 2x8 2x4] [--source before=DIR] [--skip floor]
    python bench/floor.py pocketbase [--rounds 3 --duration 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import anchors  # noqa: E402
import http_server as load  # noqa: E402
from proc_cpu import cpu_seconds  # noqa: E402

ROOT = anchors.ROOT
HOST = anchors.HOST
FLOOR = Path(__file__).resolve().parent / "floor_apps"
DOCUMENT = json.dumps({"title": "hello floor", "score": 42}).encode()


def _call(url: str, method: str = "GET", body: dict | None = None, headers: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback only)
        return json.loads(answer.read() or b"{}")


def descendants(pid: int) -> list[int]:
    """`pid` and every process under it (granian's workers, Celery's children)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def backends(database: str | None) -> list[int]:
    if not database:
        return []
    done = subprocess.run(
        [
            "psql",
            "-h",
            HOST,
            "-U",
            "postgres",
            "-qAt",
            "-c",
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [int(line) for line in done.stdout.split()]


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


class Target:
    """One server under test: where to send the two requests, and whose CPU to count."""

    name = ""
    database: str | None = None  # PostgreSQL database whose backends count as the target's

    def __init__(self) -> None:
        self.port = 0
        self.root_pids: list[int] = []
        self.get_path = self.create_path = ""
        self.headers: dict[str, str] = {}

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def cell(self, method: str, concurrency: int, duration: float) -> dict:
        body = DOCUMENT if method == "POST" else b""
        path = self.create_path if method == "POST" else self.get_path
        request = load.http_request(method, path, self.port, self.headers, body)
        asyncio.run(load.drive_request(self.port, request, 8, 1.0, ok=(200, 201)))  # warm-up
        trees = [descendants(root) for root in self.root_pids]
        database = backends(self.database)

        def sample() -> tuple:
            return [sum(map(cpu_seconds, tree)) for tree in trees], sum(map(cpu_seconds, database)), machine_busy()

        before = sample()
        result = asyncio.run(load.drive_request(self.port, request, concurrency, duration, ok=(200, 201)))
        after = sample()
        operations = max(result["requests"], 1)
        by_root = [round((a - b) * 1000 / operations, 3) for a, b in zip(after[0], before[0], strict=True)]
        after, before = (sum(after[0]), *after[1:]), (sum(before[0]), *before[1:])
        busy, total = after[2][0] - before[2][0], after[2][1] - before[2][1]
        result.update(
            server_ms=round((after[0] - before[0]) * 1000 / operations, 3),
            db_ms=round((after[1] - before[1]) * 1000 / operations, 3),
            machine_busy=round(busy / max(total, 1), 2),
            server_ms_by_process=by_root,  # Basalt: [web server, Celery worker]
        )
        return result


class Spawned(Target):
    """A server this script starts as a child (its own process group)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], database: str | None = None):
        super().__init__()
        self.name, self.argv, self.env, self.database = name, argv, env, database
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=FLOOR,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.root_pids = [self.proc.pid]
        anchors.wait_http(f"http://{HOST}:{self.port}/healthz", self.proc, 60)
        made = _call(f"http://{HOST}:{self.port}/o", "POST", {"title": "seed", "score": 1})
        self.get_path, self.create_path = f"/o/{made['id']}", "/o"

    def stop(self) -> None:
        if self.proc is not None:
            load.stop(self.proc)


def floors(db_url: str, database: str | None, workers: int, threads: int) -> list[Target]:
    env = dict(os.environ, FLOOR_DB=db_url, PYTHONPATH=str(FLOOR))
    subprocess.run([sys.executable, str(FLOOR / "raw_app.py")], env=env, check=True)
    made = []
    for name, module in (("floor-raw", "raw_app:application"), ("floor-django", "django_app:application")):
        port = anchors.free_port()
        argv = load.granian_wsgi(module, port, workers, threads)
        target = Spawned(f"{name} {workers}x{threads}", argv, env, database)
        target.port = port
        made.append(target)
    return made


class BasaltTarget(Target):
    def __init__(self, profile: str, redis_url: str, shape: str = "2x4", label: str = "basalt", source: Path = ROOT):
        super().__init__()
        self.basalt = anchors.Basalt(f"floor_{label}_{shape}", source, profile, redis_url, db_prefix="basalt_floor")
        self.workers, self.threads = (int(n) for n in shape.split("x"))
        self.name = f"{label} {f'granian {shape}' if profile == 'production' else 'serve'}"
        self.database = self.basalt.db if profile == "production" else None

    def start(self) -> None:
        # production: a fresh database, migrated; embedded: exactly `make run`
        self.basalt.start(self.workers, self.threads)
        self.port = self.basalt.port
        self.root_pids = [p.pid for p in self.basalt.procs]
        self._seed()

    def _seed(self) -> None:
        made = subprocess.run(
            [sys.executable, "manage.py", "create_project", "--owner", "floor@example.com", "--name", "Floor"],
            cwd=self.basalt.source,
            env=self.basalt.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        secret = json.loads(made)["secret_key"]["key"]
        base = f"{self.basalt.url}/api/v1"
        headers = {"X-API-Key": secret}
        fields = {"title": {"type": "string"}, "score": {"type": "number"}}
        _call(f"{base}/schema/collections", "POST", {"name": "posts", "fields": fields}, headers)
        identifier = _call(f"{base}/collections/posts/documents", "POST", {"title": "seed", "score": 1}, headers)["id"]
        self.headers = headers
        self.get_path = f"/api/v1/collections/posts/documents/{identifier}"
        self.create_path = "/api/v1/collections/posts/documents"

    def stop(self) -> None:
        self.basalt.stop()


def _peer(spec: str, port_variable: str, default_port: int) -> tuple[list[int], int]:
    """The PID (from the target spec's pidfile) and port of a peer the anchor scripts started."""
    pidfile = Path(spec.split("server_pidfile=")[1].split(",")[0])
    return [int(pidfile.read_text().strip())], int(os.environ.get(port_variable, str(default_port)))


class ParseServer(Target):
    name = "parse-server 9.10"
    database = "parse"

    def start(self) -> None:
        self.root_pids, self.port = _peer(anchors.start_parse()[0], "PARSE_PORT", 1337)
        self.headers = {"X-Parse-Application-Id": "anchorApp", "X-Parse-Master-Key": "anchorMasterKey"}
        base = f"http://{HOST}:{self.port}/parse"
        made = _call(f"{base}/classes/FloorPost", "POST", {"title": "seed", "score": 1}, self.headers)
        self.get_path = f"/parse/classes/FloorPost/{made['objectId']}"
        self.create_path = "/parse/classes/FloorPost"

    def stop(self) -> None:
        pass  # shared with bench/anchors.py runs: stop it with the anchor's stop_parse.sh


class PocketBase(Target):
    name = "pocketbase 0.40"

    def start(self) -> None:
        self.root_pids, self.port = _peer(anchors.start_pocketbase()[0], "PB_PORT", 8790)
        base = f"http://{HOST}:{self.port}/api"
        login = {"identity": "bench@example.com", "password": "bench-superuser-pw-1"}
        token = _call(f"{base}/collections/_superusers/auth-with-password", "POST", login)["token"]
        self.headers = {"Authorization": token}
        fields = [{"name": "title", "type": "text"}, {"name": "score", "type": "number"}]
        rules = dict.fromkeys(("listRule", "viewRule", "createRule", "updateRule", "deleteRule"), "")
        _call(f"{base}/collections", "POST", {"name": "floor", "type": "base", "fields": fields, **rules}, self.headers)
        made = _call(f"{base}/collections/floor/records", "POST", {"title": "seed", "score": 1}, self.headers)
        self.get_path = f"/api/collections/floor/records/{made['id']}"
        self.create_path = "/api/collections/floor/records"

    def stop(self) -> None:
        anchors.stop_pocketbase()


def targets(anchor: str, args: argparse.Namespace) -> list[Target]:
    if anchor == "parse":
        database = "basalt_floor_raw"
        anchors.psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        anchors.psql(f"CREATE DATABASE {database}")
        url = f"postgres://postgres@{HOST}:5432/{database}"
        basalts = [BasaltTarget("production", args.redis, shape) for shape in args.basalt_shape]
        basalts += [BasaltTarget("production", args.redis, args.basalt_shape[0], *source) for source in args.source]
        return [ParseServer(), *basalts, *floors(url, database, 2, 8)]
    folder = tempfile.mkdtemp(prefix="basalt-floor-")
    url = f"sqlite:{folder}/floor.sqlite3"
    basalts = [BasaltTarget("embedded", args.redis)]
    basalts += [BasaltTarget("embedded", args.redis, "1x1", *source) for source in args.source]
    return [PocketBase(), *basalts, *floors(url, None, 1, 8), *floors(url, None, 2, 8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("anchor", choices=("parse", "pocketbase"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/10")
    parser.add_argument("--json", help="write every cell here")
    parser.add_argument(
        "--basalt-shape", nargs="+", default=["2x4"], help="production: one Basalt per granian WORKERSxTHREADS"
    )
    parser.add_argument(
        "--source",
        type=lambda spec: (spec.split("=", 1)[0], Path(spec.split("=", 1)[1]).resolve()),
        action="append",
        default=[],
        help="NAME=DIR: one more Basalt checkout (e.g. `git archive` of an earlier commit), this venv",
    )
    parser.add_argument("--skip", nargs="*", default=[], help="target names starting with these are left out")
    args = parser.parse_args()

    chosen = targets(args.anchor, args)
    chosen = [chosen[0]] + [t for t in chosen[1:] if not t.name.startswith(tuple(args.skip or ()))]
    cells: dict[str, dict[str, list[dict]]] = {t.name: {"GET": [], "POST": []} for t in chosen}
    started: list[Target] = []
    try:
        for target in chosen:  # all up at once, idle while another is measured
            started.append(target)  # before start(): a start that fails half-way is stopped too
            target.start()
        for round_ in range(args.rounds):
            for target in chosen if round_ % 2 == 0 else list(reversed(chosen)):
                for method in ("GET", "POST"):
                    result = target.cell(method, args.concurrency, args.duration)
                    cells[target.name][method].append(result)
                    print(f"round {round_ + 1} {target.name:22} {method:4} {result}", flush=True)
    finally:
        for target in started:
            target.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(cells, indent=1))
    print(table(cells, chosen[0].name))


def table(cells: dict[str, dict[str, list[dict]]], peer: str) -> str:
    rows = [
        "| target | request | op/s | / peer | p50 / p95 ms | server ms/op | db ms/op | machine busy |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for method in ("GET", "POST"):
        peer_rps = statistics.median(c["rps"] for c in cells[peer][method])
        for name, by_method in cells.items():
            runs = by_method[method]

            def median(key: str, runs: list[dict] = runs) -> float:
                return statistics.median(c[key] for c in runs)

            rows.append(
                f"| {name} | {method} | {median('rps'):,.0f} | {median('rps') / peer_rps:.2f} | "
                f"{median('p50_ms'):.1f} / {median('p95_ms'):.1f} | {median('server_ms'):.2f} | "
                f"{median('db_ms'):.2f} | {median('machine_busy'):.2f} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    main()

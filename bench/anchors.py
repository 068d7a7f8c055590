"""Basalt against its peers on this machine, in one run: Parse Server and PocketBase (issue 10).

The peers, the workload and its adapters live outside the project (`../shared/anchors/`, see
its README): this script only starts Basalt, calls them, and prints the ratio table. Every
Basalt source given runs as one more target of the same workload run, so "before" and "after"
are measured side by side against the same peer, alternating the order from run to run.

    # production profile (granian + Celery worker, PostgreSQL + Redis) vs Parse Server 9.10:
    python bench/anchors.py parse --runs 3 --redis redis://127.0.0.1:6379/9 \\
        [--source before=/tmp/basalt-main] [--quick]
    # embedded default (`manage.py serve`, SQLite) vs PocketBase 0.40:
    python bench/anchors.py pocketbase --runs 3 [--source before=/tmp/basalt-main] [--quick]
    # Basalt trees only (production profile), ratios against the first --source:
    python bench/anchors.py none --source before=/tmp/basalt-main --runs 3 --db-prefix basalt_me_anchor

`--source NAME=DIR[,threads=N]` adds a Basalt checkout (e.g. `git archive main | tar -x -C DIR`)
run with this checkout's virtualenv (`.` is this checkout again, e.g. with other granian threads
per worker); this checkout is always the target `basalt`. Results (raw JSON of
each run and the table) go to `--out` (default a new temporary directory). Parse Server is
installed and started by the anchor's `setup_parse.sh` when it is not running
(ANCHOR_DIR, default $TMPDIR/anchors; PARSE_PORT, default 1337); PocketBase by `servers.sh`
(PBBENCH_DIR, default $TMPDIR/pbbench; PB_PORT, default 8790). The workload's sign-ups are
allowed by raising IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR and CONSOLE_SIGNUP_RATE for Basalt.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_server as load  # noqa: E402  (bench/, this script's own folder)

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
ANCHORS = Path(os.environ.get("BASALT_ANCHORS", ROOT.parent / "shared" / "anchors")).resolve()
if not ANCHORS.is_dir():
    ANCHORS = Path("/work/shared/anchors")
TMP = os.environ.get("TMPDIR", "/tmp")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"no answer from {url} after {timeout:.0f} s")


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", HOST, "-U", "postgres", "-qAt", "-c", sql], check=True, capture_output=True)


def git_env() -> dict[str, str]:
    """setup_parse.sh refuses an ANCHOR_DIR inside "the" repository, which it finds with git from
    its own folder; when that folder is not in a repository, point git at this checkout."""
    env = dict(os.environ)
    done = subprocess.run(["git", "-C", str(ANCHORS), "rev-parse", "--show-toplevel"], capture_output=True)
    if done.returncode:
        env.update(GIT_DIR=str(ROOT / ".git"), GIT_WORK_TREE=str(ROOT))
    return env


class Basalt:
    """One Basalt source tree, started in the production or the embedded profile."""

    def __init__(self, name: str, source: Path, profile: str, redis_url: str, db_prefix: str = "basalt_anchor"):
        self.name, self.source, self.profile = name, source, profile
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.db = f"{db_prefix}_{name}"
        self.data_dir = tempfile.mkdtemp(prefix=f"basalt-anchor-{name}-")
        self.env = dict(os.environ)
        self.env.update(
            BASALT_DATA_DIR=self.data_dir,
            PYTHONPATH=str(source / "platform"),
            IDENTITY_ACCOUNTS_PER_ADDRESS_PER_HOUR="1000000",
            CONSOLE_SIGNUP_RATE="100000/hour",
            LOG_LEVEL="WARNING",
        )
        for name_ in ("DATABASE_URL", "REDIS_URL", "BASALT_PROFILE"):
            self.env.pop(name_, None)
        if profile == "production":
            self.env.update(
                BASALT_PROFILE="production",
                SECRET_KEY="anchor-bench-only-" + "x" * 40,
                ALLOWED_HOSTS=HOST,
                DEBUG="false",
                DATABASE_URL=f"postgres://postgres@{HOST}:5432/{self.db}",
                REDIS_URL=redis_url,
            )
        self.procs: list[subprocess.Popen] = []
        self.log = open(Path(self.data_dir) / "server.log", "ab")  # noqa: SIM115 - closed in stop()

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=self.source, env=self.env, stdout=self.log, stderr=self.log)
        self.procs.append(proc)
        return proc

    def start(self, workers: int, threads: int, http: str | None = None) -> None:
        python = sys.executable
        if self.profile == "production":
            psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
            psql(f"CREATE DATABASE {self.db}")
            subprocess.run(
                [python, "manage.py", "migrate", "--noinput"],
                cwd=self.source,
                env=self.env,
                check=True,
                capture_output=True,
            )
            web = self._spawn(load.granian_wsgi("basalt.wsgi:application", self.port, workers, threads))
            self._spawn(
                [python, "-m", "celery", "-A", "basalt", "worker", "--loglevel", "WARNING", "--concurrency", "2"]
            )
        else:  # exactly what `make run` runs, on a port of its own
            extra = ["--http-server", http] if http else []
            web = self._spawn([python, "manage.py", "serve", "--port", str(self.port), *extra])
        wait_http(self.url + "/healthz", web)

    def target(self, adapter: str) -> str:
        pids = ":".join(str(p.pid) for p in self.procs)
        spec = f"{self.name},{adapter},{self.url},server_pids={pids}"
        if self.profile == "production":
            spec += f",db_match= {self.db} "
        else:
            spec += ",db_pidfile=/dev/null"
        return spec

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.log.close()


def start_parse() -> tuple[str, Path]:
    anchor_dir = Path(os.environ.get("ANCHOR_DIR", Path(TMP) / "anchors"))
    port = os.environ.get("PARSE_PORT", "1337")
    pidfile = anchor_dir / "parse" / "parse-server.pid"
    env = {**git_env(), "ANCHOR_DIR": str(anchor_dir), "PG_MODE": "system", "PARSE_PORT": port}
    running = pidfile.exists() and _alive(int(pidfile.read_text().strip() or 0))
    if not running:
        subprocess.run(["bash", str(ANCHORS / "parse" / "setup_parse.sh")], env=env, check=True)
    spec = f"parse,parse,http://{HOST}:{port}/parse,server_pidfile={pidfile},db_match= parse parse "
    return spec, anchor_dir / "venv" / "bin" / "python"


def start_pocketbase() -> tuple[str, Path]:
    work = Path(os.environ.get("PBBENCH_DIR", Path(TMP) / "pbbench"))
    env = {**os.environ, "PBBENCH_DIR": str(work), "BASALT_SRC": str(ROOT)}
    servers = ANCHORS / "pocketbase" / "servers.sh"
    if not (work / "venv" / "bin" / "pocketbase").exists():
        subprocess.run(["bash", str(servers), "setup"], env=env, check=True, cwd=ROOT)
    # servers.sh starts PocketBase and its own Basalt clone; ours are started here, so only
    # PocketBase is wanted from it: a live PID in its basalt.pid makes it skip its Basalt.
    (work / "basalt.pid").unlink(missing_ok=True)
    subprocess.run(["bash", str(servers), "stop"], env=env, check=False, cwd=ROOT)
    for leftover in ("pb_data", "pb_migrations"):
        subprocess.run(["rm", "-rf", str(work / leftover)], check=True)
    (work / "basalt.pid").write_text(f"{os.getpid()}\n")
    subprocess.run(["bash", str(servers), "start"], env=env, check=True, cwd=ROOT)
    port = os.environ.get("PB_PORT", "8790")
    return (
        f"pocketbase,pocketbase,http://{HOST}:{port},server_pidfile={work / 'pb.pid'}",
        work / "venv" / "bin" / "python",
    )


def stop_pocketbase() -> None:
    work = Path(os.environ.get("PBBENCH_DIR", Path(TMP) / "pbbench"))
    (work / "basalt.pid").unlink(missing_ok=True)  # not ours to stop: servers.sh stops PocketBase only
    subprocess.run(
        ["bash", str(ANCHORS / "pocketbase" / "servers.sh"), "stop"],
        env={**os.environ, "PBBENCH_DIR": str(work)},
        check=False,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return pid > 0


# --- the table --------------------------------------------------------------------------------
def _key(rec: dict) -> str:
    return f"{rec['phase']} c={rec['concurrency']}"


def _ops(rec: dict) -> float:
    return (rec.get("ops_per_s") or 0) * rec.get("items_per_op", 1)


def ratio_table(files: list[Path], anchor: str) -> str:
    runs = [json.loads(path.read_text()) for path in files]
    data: dict[tuple[str, str], list[dict]] = {}
    order: list[str] = []
    names: list[str] = []
    for run in runs:
        for result in run["results"]:
            if result["name"] not in names:
                names.append(result["name"])
            for rec in result["phases"]:
                if not rec.get("ops_ok"):
                    continue
                if _key(rec) not in order:
                    order.append(_key(rec))
                data.setdefault((result["name"], _key(rec)), []).append(rec)
    others = [n for n in names if n != anchor]
    med = statistics.median
    head = f"| phase | {anchor} op/s | " + " | ".join(f"{n} op/s | {n}/{anchor}" for n in others)
    head += f" | {anchor} p95 ms | " + " | ".join(f"{n} p95 ms" for n in others)
    head += f" | {anchor} srv ms/op | " + " | ".join(f"{n} srv ms/op" for n in others)
    head += f" | {anchor} db ms/op | " + " | ".join(f"{n} db ms/op" for n in others)
    head += " | other CPU ms/op (" + ", ".join([anchor, *others]) + ") |"
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for key in order:
        base = data.get((anchor, key))
        if not base:
            continue
        base_ops = med(_ops(r) for r in base)
        cells = [key, f"{base_ops:,.0f}"]
        for name in others:
            mine = data.get((name, key))
            cells += (
                [f"{med(_ops(r) for r in mine):,.0f}", f"{med(_ops(r) for r in mine) / base_ops:.2f}"]
                if mine and base_ops
                else ["-", "-"]
            )
        for name in [anchor, *others]:
            recs = data.get((name, key))
            cells.append(f"{med(r['latency_ms']['p95'] for r in recs):.1f}" if recs else "-")
        for field in ("server_cpu_ms_per_op", "db_cpu_ms_per_op"):
            for name in [anchor, *others]:
                recs = data.get((name, key))
                cells.append(f"{med(r.get(field) or 0 for r in recs):.2f}" if recs else "-")
        # CPU the rest of the machine used per op: how loaded the host was while each target ran.
        cells.append(
            " / ".join(
                f"{med(1000 * r['other_cpu_s'] / r['ops_ok'] for r in data[(name, key)]):.0f}"
                if data.get((name, key))
                else "-"
                for name in [anchor, *others]
            )
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def source_spec(spec: str, threads: int) -> tuple[str, Path, int, str | None]:
    """`NAME=DIR[,threads=N][,http=SERVER]` of --source (http: `serve --http-server`, embedded profile)."""
    name, rest = spec.split("=", 1)
    folder, *options = rest.split(",")
    settings = dict(option.split("=", 1) for option in options)
    unknown = set(settings) - {"threads", "http"}
    if unknown:
        raise SystemExit(f"--source {spec}: unknown option {sorted(unknown)[0]}")
    return name, Path(folder).resolve(), int(settings.get("threads", threads)), settings.get("http")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("peer", choices=["parse", "pocketbase", "none"], help="none: only the Basalt trees")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--source",
        action="append",
        default=[],
        help="NAME=DIR[,threads=N][,http=granian]: one more Basalt checkout (`.` for this one, e.g. with other "
        "granian threads, or `serve --http-server granian` in the embedded profile)",
    )
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--workers", type=int, default=2, help="granian workers (production profile)")
    parser.add_argument("--threads", type=int, default=4, help="granian blocking threads per worker (production: 4)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--db-prefix", default="basalt_anchor", help="PostgreSQL database of target NAME: PREFIX_NAME")
    parser.add_argument("--table", nargs="+", type=Path, help="only print the table of earlier result files")
    args, workload_args = parser.parse_known_args()
    sources = [("basalt", ROOT, args.threads, None)] + [source_spec(spec, args.threads) for spec in args.source]
    # Without a peer (the production profile, before/after), the first --source is the baseline.
    anchor = args.peer if args.peer != "none" else (sources[1][0] if len(sources) > 1 else "basalt")
    if args.table:
        print(ratio_table(args.table, anchor))
        return
    out = args.out or Path(tempfile.mkdtemp(prefix=f"anchors-{args.peer}-"))
    out.mkdir(parents=True, exist_ok=True)
    profile = "embedded" if args.peer == "pocketbase" else "production"
    if args.peer == "none":
        peers, driver = [], Path(sys.executable)  # the driver needs aiohttp, which this venv has
    else:
        peer, driver = start_parse() if args.peer == "parse" else start_pocketbase()
        peers = [peer]
    adapter = "basalt_embedded" if args.peer == "pocketbase" else "basalt"
    modules = [ANCHORS / "parse" / "basalt_adapter.py"]
    if args.peer == "pocketbase":
        modules = [
            ANCHORS / "pocketbase" / "pocketbase_adapter.py",
            ANCHORS / "pocketbase" / "basalt_embedded_adapter.py",
        ]
    files = []
    try:
        for run in range(1, args.runs + 1):
            servers = [Basalt(name, source, profile, args.redis, args.db_prefix) for name, source, *_ in sources]
            try:
                for server, (_, _, threads, http) in zip(servers, sources, strict=True):
                    server.start(args.workers, threads, http)
                targets = [*peers, *(server.target(adapter) for server in servers)]
                shift = (run - 1) % len(targets)  # alternate which target goes first
                targets = targets[shift:] + targets[:shift]
                argv = [str(driver), str(ANCHORS / "parse" / "workload.py")]
                for module in modules:
                    argv += ["--adapter-module", str(module)]
                for target in targets:
                    argv += ["--target", target]
                path = out / f"run{run}.json"
                argv += ["--run-id", f"r{run}{int(time.time()) % 100000}", "--out", str(path), *workload_args]
                load = Path("/proc/loadavg").read_text().split()[:3]
                print(f"== run {run}: order {[t.split(',')[0] for t in targets]}, load average {load}", flush=True)
                subprocess.run(argv, cwd=ANCHORS / "parse", check=True)
                files.append(path)
            finally:
                for server in servers:
                    server.stop()
    finally:
        if args.peer == "pocketbase":
            stop_pocketbase()
    table = ratio_table(files, anchor)
    (out / "ratios.md").write_text(table + "\n")
    print(f"\nmedians of {len(files)} run(s), results in {out}\n")
    print(table)


if __name__ == "__main__":
    main()

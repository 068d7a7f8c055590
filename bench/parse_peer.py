"""Basalt's Parse face against Parse Server 9.10 and against Basalt's own /api/v1, in one run (issue 16).

One invocation starts Parse Server (the anchor's setup_parse.sh, on the machine's PostgreSQL) and
Basalt in its production shape (granian over WSGI + a Celery worker + daphne for WebSockets, on
PostgreSQL + Redis), then drives the shared anchor workload (../shared/anchors/parse/workload.py:
sign-up/login, create at 1/16/64 clients, get, queries, count, increment, delete, ACL mixes,
batches of 50, LiveQuery create → event latency) through three targets, alternating their order
from run to run:

- `parse`: Parse Server through its REST API and LiveQuery, with the anchor's Parse adapter;
- `basalt_parse`: the same Parse adapter (same requests, same LiveQuery client) against Basalt's /parse;
- `basalt`: the anchor's native adapter against Basalt's /api/v1 (WebSocket to daphne).

It prints per phase: op/s of each, basalt_parse/parse op/s (> 1: the face beats Parse Server),
server CPU ms per op of each and the face's cost over the native face (basalt_parse/basalt, the
issue's ≤ 1.15), and the LiveQuery event latency p50/p95 of each.

    python bench/parse_peer.py --runs 1 --redis redis://127.0.0.1:6379/13 [workload args, e.g. --quick]

ANCHOR_DIR (default $TMPDIR/anchors) and PARSE_PORT (default 1337) choose where Parse Server is
installed and listens; it is stopped at the end when this script started it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import anchors  # noqa: E402  (bench/anchors.py: Basalt's production launcher and Parse Server's)

ROOT = anchors.ROOT
ADAPTERS = Path(__file__).resolve().parent / "parse_peer_adapters.py"


class BasaltWithRealtime(anchors.Basalt):
    """The production shape plus daphne: WebSockets (/parse LiveQuery, /api/v1/realtime) on a port of their own."""

    def start(self, workers: int, threads: int) -> None:
        super().start(workers, threads)
        self.ws_port = anchors.free_port()
        self._spawn(
            [sys.executable, "-m", "daphne", "-b", anchors.HOST, "-p", str(self.ws_port), "basalt.asgi:application"]
        )
        anchors.wait_http(f"http://{anchors.HOST}:{self.ws_port}/healthz", self.procs[-1])

    def target(self, adapter: str, name: str | None = None) -> str:
        spec = super().target(adapter)
        if name:
            spec = name + spec[spec.index(",") :]
        return spec + f",ws_url=ws://{anchors.HOST}:{self.ws_port}"


def _ms_per_op(recs: list[dict], field: str) -> float | None:
    values = [r.get(field) for r in recs if r.get(field) is not None]
    return statistics.median(values) if values else None


def table(files: list[Path]) -> str:
    runs = [json.loads(path.read_text()) for path in files]
    data: dict[tuple[str, str], list[dict]] = {}
    live: dict[str, list[dict]] = {}
    order: list[str] = []
    for run in runs:
        for result in run["results"]:
            for rec in result["phases"]:
                key = f"{rec['phase']} c={rec['concurrency']}"
                if not rec.get("ops_ok"):
                    continue
                if key not in order:
                    order.append(key)
                data.setdefault((result["name"], key), []).append(rec)
            if (result.get("live") or {}).get("status") == "ok":
                live.setdefault(result["name"], []).append(result["live"])
            elif result.get("live"):
                live.setdefault(result["name"], [])
                print(f"live phase of {result['name']}: {result['live'].get('status')}", file=sys.stderr)
    med = statistics.median
    lines = [
        "| phase | parse op/s | basalt_parse op/s | basalt op/s | basalt_parse/parse op/s "
        "| srv ms/op parse | basalt_parse | basalt | face cost basalt_parse/basalt srv CPU "
        "| basalt_parse/parse srv CPU |",
        "|" + " --- |" * 10,
    ]
    for key in order:
        cells = [key]
        ops = {}
        for name in ("parse", "basalt_parse", "basalt"):
            recs = data.get((name, key))
            ops[name] = med(r["ops_per_s"] * r.get("items_per_op", 1) for r in recs) if recs else None
            cells.append(f"{ops[name]:,.0f}" if ops[name] else "-")
        cells.append(f"{ops['basalt_parse'] / ops['parse']:.2f}" if ops["basalt_parse"] and ops["parse"] else "-")
        cpu = {name: _ms_per_op(data.get((name, key), []), "server_cpu_ms_per_op") for name in ops}
        cells += [f"{cpu[name]:.2f}" if cpu[name] is not None else "-" for name in ops]
        for a, b in (("basalt_parse", "basalt"), ("basalt_parse", "parse")):
            cells.append(f"{cpu[a] / cpu[b]:.2f}" if cpu[a] and cpu[b] else "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| LiveQuery create → event | p50 ms | p95 ms | events | srv ms/event |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in ("parse", "basalt_parse", "basalt"):
        recs = live.get(name)
        if not recs:
            lines.append(f"| {name} | - | - | - | - |")
            continue
        p50 = med(r["write_to_event_ms"]["p50"] for r in recs)
        p95 = med(r["write_to_event_ms"]["p95"] for r in recs)
        got = sum(r["events_received"] for r in recs)
        srv = med(1000 * r["server_cpu_s"] / max(r["events_received"], 1) for r in recs if "server_cpu_s" in r)
        lines.append(f"| {name} | {p50:.1f} | {p95:.1f} | {got} | {srv:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--workers", type=int, default=2, help="granian workers")
    parser.add_argument("--threads", type=int, default=8, help="granian blocking threads per worker")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--db-prefix", default="basalt_anchor", help="Basalt's database: PREFIX_parseface")
    parser.add_argument("--table", nargs="+", type=Path, help="only print the table of earlier result files")
    args, workload_args = parser.parse_known_args()
    if args.table:
        print(table(args.table))
        return
    out = args.out or Path(tempfile.mkdtemp(prefix="parse-peer-"))
    out.mkdir(parents=True, exist_ok=True)
    anchor_dir = Path(os.environ.get("ANCHOR_DIR", Path(anchors.TMP) / "anchors"))
    pidfile = anchor_dir / "parse" / "parse-server.pid"
    was_running = pidfile.exists() and anchors._alive(int(pidfile.read_text().strip() or 0))
    peer, driver = anchors.start_parse()
    peer = peer.replace("parse,parse,", "parse,parse_peer,", 1)
    files = []
    try:
        for run in range(1, args.runs + 1):
            server = BasaltWithRealtime("parseface", ROOT, "production", args.redis, args.db_prefix)
            try:
                server.start(args.workers, args.threads)
                targets = [peer, server.target("basalt_parse", "basalt_parse"), server.target("basalt_ws", "basalt")]
                shift = (run - 1) % len(targets)
                targets = targets[shift:] + targets[:shift]
                argv = [str(driver), str(anchors.ANCHORS / "parse" / "workload.py"), "--adapter-module", str(ADAPTERS)]
                for spec in targets:
                    argv += ["--target", spec]
                path = out / f"run{run}.json"
                argv += ["--run-id", f"p{run}{int(time.time()) % 100000}", "--out", str(path), *workload_args]
                load = Path("/proc/loadavg").read_text().split()[:3]
                print(f"== run {run}: order {[t.split(',')[0] for t in targets]}, load average {load}", flush=True)
                subprocess.run(argv, cwd=anchors.ANCHORS / "parse", check=True)
                files.append(path)
            finally:
                server.stop()
    finally:
        if not was_running:
            env = {**os.environ, "ANCHOR_DIR": str(anchor_dir)}
            subprocess.run(["bash", str(anchors.ANCHORS / "parse" / "stop_parse.sh"), "--keep-postgres"], env=env)
    result = table(files)
    (out / "table.md").write_text(result + "\n")
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nmedians of {len(files)} run(s), results in {out}, load average at the end {load}\n")
    print(result)


if __name__ == "__main__":
    main()

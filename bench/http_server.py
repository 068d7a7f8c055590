"""Measure candidate production HTTP servers for Basalt on loopback: req/s and latency percentiles.

Each candidate server is started as its own process group with the production profile against
PostgreSQL + Redis; this process drives keep-alive HTTP/1.1 load from asyncio over raw sockets
(cheaper than an HTTP client library, so more of the 2 cores go to the server under test).
Every run is bounded in time and talks only to 127.0.0.1.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_bench REDIS_URL=redis://127.0.0.1:6379/4 \\
        python bench/http_server.py --duration 5 --rounds 2 --json bench/results.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


@dataclass
class Candidate:
    """One way of serving Basalt over HTTP and the database connection mode that fits it."""

    name: str
    argv: list[str]
    # Every server shares connections through a bounded pool (the only mode since issue 8).
    pool_size: int = 10
    env: dict[str, str] = field(default_factory=dict)


def candidates(port: int, workers: int) -> dict[str, Candidate]:
    w = str(workers)
    return {
        "daphne": Candidate("daphne", [str(BIN / "daphne"), "-b", HOST, "-p", str(port), "basalt.asgi:application"], 8),
        "uvicorn": Candidate(
            "uvicorn",
            [
                str(BIN / "uvicorn"),
                "basalt.asgi:application",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                w,
                "--no-access-log",
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            8,
        ),
        "gunicorn-sync": Candidate(
            "gunicorn-sync",
            [
                str(BIN / "gunicorn"),
                "basalt.wsgi:application",
                "-b",
                f"{HOST}:{port}",
                "-w",
                w,
                "-k",
                "sync",
                "--log-level",
                "warning",
            ],
        ),
        "gunicorn-gthread": Candidate(
            "gunicorn-gthread",
            [
                str(BIN / "gunicorn"),
                "basalt.wsgi:application",
                "-b",
                f"{HOST}:{port}",
                "-w",
                w,
                "-k",
                "gthread",
                "--threads",
                "8",
                "--log-level",
                "warning",
            ],
        ),
        "granian-asgi": Candidate(
            "granian-asgi",
            [
                str(BIN / "granian"),
                "--interface",
                "asgi",
                "--host",
                HOST,
                "--port",
                str(port),
                "--workers",
                w,
                "--no-ws",
                "--log-level",
                "warning",
                "basalt.asgi:application",
            ],
            8,
        ),
        "granian-wsgi": Candidate(
            "granian-wsgi",
            granian_wsgi("basalt.wsgi:application", port, workers, 8),
        ),
    }


CANDIDATE_NAMES = ["daphne", "uvicorn", "gunicorn-sync", "gunicorn-gthread", "granian-asgi", "granian-wsgi"]


def granian_wsgi(app: str, port: int, workers: int, threads: int | str) -> list[str]:
    """granian serving a WSGI application as the production `web` role does (docker/entrypoint.sh),
    without its access log."""
    return [
        str(BIN / "granian"),
        app,
        "--interface",
        "wsgi",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--log-level",
        "warning",
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def base_env(args: argparse.Namespace, data_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BASALT_PROFILE="production",
        SECRET_KEY=args.secret_key,
        ALLOWED_HOSTS=HOST,
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        BASALT_DATA_DIR=data_dir,
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT / "platform"),
        # Plain HTTP on loopback: the bench has no TLS proxy in front.
        SECURE_COOKIES="false",
    )
    return env


def prepare_project(env: dict[str, str]) -> str:
    """Migrate the bench database and create a project; return its publishable key."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    out = subprocess.run(
        [*manage, "create_project", "--owner", "bench@example.com", "--name", "Bench"],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["publishable_key"]["key"]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group (its workers too), politely first."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# --- load generator -------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; return (status, server keeps the connection open)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip().lower()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()
        return status, False
    return status, headers.get("connection") != "close"


async def connection_loop(
    port: int, request: bytes, stop_at: float, latencies: list[float], errors: list[str], ok: tuple[int, ...] = (200,)
) -> None:
    reader = writer = None
    while time.monotonic() < stop_at:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            start = time.perf_counter()
            writer.write(request)
            status, keep = await asyncio.wait_for(read_response(reader), timeout=30)
            latencies.append(time.perf_counter() - start)
            if status not in ok:
                errors.append(str(status))
            if not keep:
                writer.close()
                writer = None
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors.append(type(exc).__name__)
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def drive(port: int, path: str, headers: dict[str, str], concurrency: int, duration: float) -> dict:
    return await drive_request(port, http_request("GET", path, port, headers), concurrency, duration)


def http_request(method: str, path: str, port: int, headers: dict[str, str], body: bytes = b"") -> bytes:
    if body:
        headers = {**headers, "Content-Type": "application/json", "Content-Length": str(len(body))}
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode() + body


async def drive_request(
    port: int, request: bytes, concurrency: int, duration: float, ok: tuple[int, ...] = (200,)
) -> dict:
    """`concurrency` keep-alive connections sending `request` back to back for `duration` seconds."""
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    stop_at = started + duration
    await asyncio.gather(*(connection_loop(port, request, stop_at, latencies, errors, ok) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else 0.0

    return {
        "requests": len(latencies),
        "rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:5],
        # Other work on a shared 2-core machine skews numbers; keep the evidence with them.
        "load1": round(os.getloadavg()[0], 2),
    }


# --- orchestration --------------------------------------------------------------------------


def run_candidate(
    cand: Candidate, port: int, env: dict[str, str], routes: dict, concurrencies: list[int], duration: float
) -> dict:
    env = dict(env, DATABASE_POOL_SIZE=str(cand.pool_size), **cand.env)
    proc = subprocess.Popen(
        cand.argv, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_ready(port, proc)
        results = {}
        for route, (path, headers) in routes.items():
            asyncio.run(drive(port, path, headers, 8, 1.0))  # warm-up: imports, pools, caches
            for conc in concurrencies:
                results[f"{route}@{conc}"] = asyncio.run(drive(port, path, headers, conc, duration))
                print(f"  {cand.name:17} {route:8} c={conc:<3} {results[f'{route}@{conc}']}", flush=True)
        return results
    finally:
        stop(proc)
        if proc.returncode not in (0, -signal.SIGTERM, None):
            tail = proc.stderr.read().decode(errors="replace")[-600:] if proc.stderr else ""
            if tail.strip():
                print(f"  {cand.name} stderr: {tail}", flush=True)


def median_table(rounds: list[dict]) -> dict:
    """Median of each metric over the rounds of one candidate (machine noise is large here)."""
    table = {}
    for key in rounds[0]:
        table[key] = {
            metric: round(statistics.median(r[key][metric] for r in rounds), 1)
            for metric in ("rps", "p50_ms", "p95_ms", "p99_ms", "errors")
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", default=",".join(CANDIDATE_NAMES))
    parser.add_argument("--concurrency", default="16,64")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement (max 30)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    parser.add_argument("--secret-key", default="bench-only-" + "x7" * 20)
    parser.add_argument("--api-key", default="", help="publishable key of an existing project (else one is made)")
    parser.add_argument("--json", default="", help="write raw and median results here")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("set DATABASE_URL (PostgreSQL) for a production-like measurement")
    duration = min(args.duration, 30.0)
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory(prefix="basalt-bench-") as data_dir:
        env = base_env(args, data_dir)
        api_key = args.api_key or prepare_project(env)
        routes = {"healthz": ("/healthz", {}), "project": ("/api/v1/project", {"X-API-Key": api_key})}
        raw: dict[str, list[dict]] = {}
        names = args.candidates.split(",")
        # Rounds interleave candidates so a burst of background load hurts no single one.
        for round_no in range(args.rounds):
            for name in names:
                port = free_port()
                cand = candidates(port, args.workers)[name]
                print(f"round {round_no + 1}: {name}", flush=True)
                try:
                    raw.setdefault(name, []).append(run_candidate(cand, port, env, routes, concurrencies, duration))
                except RuntimeError as exc:
                    print(f"  {name} failed: {exc}", flush=True)
    medians = {name: median_table(rs) for name, rs in raw.items() if rs}
    print("\nmedians over rounds (req/s, p50/p95/p99 ms, errors)")
    for name, table in medians.items():
        for key, m in table.items():
            latency = f"{m['p50_ms']:>6} {m['p95_ms']:>6} {m['p99_ms']:>7} ms"
            print(f"{name:17} {key:12} {m['rps']:>8} rps  {latency}  err={m['errors']}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "raw": raw,
                    "medians": medians,
                    "args": {
                        "duration": duration,
                        "concurrency": concurrencies,
                        "workers": args.workers,
                        "rounds": args.rounds,
                    },
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()

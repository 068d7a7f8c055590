"""The embedded server (`manage.py serve`, SQLite) of this checkout against other checkouts, side by side.

Starts `serve` from each source in turn (interleaved rounds, fresh data directory per source),
drives keep-alive HTTP/1.1 with the load generator of http_server.py, and prints medians and the
ratio of each source to the first. Routes: `/healthz` (no database), `GET /api/v1/project` with a
publishable key (key lookup + project row), `GET /api/v1/collections/posts/documents/{id}` with the
secret key (the document read path), and with the same key a create in that collection and an
update of that document (the write path).

    git -C . archive main | tar -x -C /tmp/basalt-main
    python bench/embedded_server.py --source before=/tmp/basalt-main [--rounds 3 --duration 5]

Every source runs with this checkout's virtualenv. Numbers from a shared machine are noisy:
compare sources within one run.
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
import http_server as load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"


def _api(url: str, key: str, method: str = "GET", body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"X-API-Key": key})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback only)
        return json.loads(answer.read() or b"{}")


def prepare(source: Path, env: dict[str, str]) -> dict[str, str]:
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], env=env, cwd=source, check=True)
    made = subprocess.run(
        [python, "manage.py", "create_project", "--owner", "bench@example.com", "--name", "Bench"],
        env=env,
        cwd=source,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    made = json.loads(made)
    return {"pk": made["publishable_key"]["key"], "sk": made["secret_key"]["key"]}


def measure(source: Path, data_dir: str, keys: dict, first: bool, duration: float, concurrency: int) -> dict:
    env = dict(os.environ, BASALT_DATA_DIR=data_dir, LOG_LEVEL="WARNING", PYTHONPATH=str(source / "platform"))
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if first:
        keys.update(prepare(source, env))
    port = load.free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-migrate", "--host", HOST, "--port", str(port)],
        env=env,
        cwd=source,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        load.wait_ready(port, proc)
        base = f"http://{HOST}:{port}/api/v1"
        if first:
            posts = {"name": "posts", "fields": {"title": {"type": "string"}}}
            _api(f"{base}/schema/collections", keys["sk"], "POST", posts)
            keys["doc"] = _api(f"{base}/collections/posts/documents", keys["sk"], "POST", {"title": "hello"})["id"]
        documents = "/api/v1/collections/posts/documents"
        secret = {"X-API-Key": keys["sk"]}
        body = json.dumps({"title": "hello"}).encode()
        routes = {  # name: (method, path, headers, body, the answer's status)
            "healthz": ("GET", "/healthz", {}, b"", 200),
            "project": ("GET", "/api/v1/project", {"X-API-Key": keys["pk"]}, b"", 200),
            "document": ("GET", f"{documents}/{keys['doc']}", secret, b"", 200),
            "create": ("POST", documents, secret, body, 201),
            "update": ("PATCH", f"{documents}/{keys['doc']}", secret, body, 200),
        }
        results = {}
        for name, (method, path, headers, payload, status) in routes.items():
            request = load.http_request(method, path, port, headers, payload)
            asyncio.run(load.drive_request(port, request, 8, 1.0, ok=(status,)))  # warm-up
            results[name] = asyncio.run(load.drive_request(port, request, concurrency, duration, ok=(status,)))
        return results
    finally:
        load.stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", action="append", default=[], help="NAME=DIR of another checkout")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    sources = {"this": ROOT}
    for spec in args.source:
        name, _, path = spec.partition("=")
        sources[name] = Path(path).resolve()
    state = {name: {"dir": tempfile.mkdtemp(prefix=f"embedded-{name}-"), "keys": {}} for name in sources}
    rounds: dict[str, list[dict]] = {name: [] for name in sources}
    for number in range(args.rounds):
        order = list(sources) if number % 2 == 0 else list(reversed(sources))
        for name in order:
            result = measure(
                sources[name], state[name]["dir"], state[name]["keys"], number == 0, args.duration, args.concurrency
            )
            rounds[name].append(result)
            print(
                f"round {number + 1} {name}: "
                + ", ".join(
                    f"{r} {v['rps']} req/s" + (f" ({v['errors']} errors)" if v["errors"] else "")
                    for r, v in result.items()
                )
            )
    first = next(iter(sources))
    print(f"\nmedians over {args.rounds} rounds, c={args.concurrency}; ratio to '{first}'")
    print(f"{'source':10} {'route':9} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'ratio':>6}")
    for name in sources:
        for route in rounds[name][0]:
            rps = statistics.median(r[route]["rps"] for r in rounds[name])
            base = statistics.median(r[route]["rps"] for r in rounds[first])
            p50 = statistics.median(r[route]["p50_ms"] for r in rounds[name])
            p95 = statistics.median(r[route]["p95_ms"] for r in rounds[name])
            print(f"{name:10} {route:9} {rps:8.0f} {p50:7.1f} {p95:7.1f} {rps / base:6.2f}")


if __name__ == "__main__":
    main()

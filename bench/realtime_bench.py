"""Realtime load generator: write → event latency, fan-out, sustained rate, idle connections (loopback only).

Starts `manage.py serve` (daphne) like the live tests do: SQLite + in-memory layer by default, or
PostgreSQL + Redis with DATABASE_URL/REDIS_URL set (the production profile's channel layer).
Writers use REST on the same server; subscribers are real WebSocket clients (`websockets`).
With --production: the production shape instead (REST on granian, WebSockets on daphne, a Celery
worker, PostgreSQL + Redis; started like bench/parse_peer.py does).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/basalt_bench REDIS_URL=redis://127.0.0.1:6379/4 \
      python bench/realtime_bench.py --subscribers 200 --rate 10 --duration 60 --fanout 2000 --idle 10000
    python bench/realtime_bench.py --production --writes 200 --subscribers 200 --fanout 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "platform"))
# tests.contract.live picks the servers' Redis database with a helper of tests/conftest.py, which
# imports DRF's test client: that needs settings configured (nothing else of Django is used here).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
os.environ.setdefault("BASALT_DATA_DIR", tempfile.mkdtemp(prefix="basalt-bench-"))

from tests.contract import live  # noqa: E402

POSTS = {
    "name": "posts",
    "fields": {"n": {"type": "number"}, "t": {"type": "number"}},
    "permissions": {op: ["*"] for op in ("get", "find", "create", "update", "delete")},
    "default_acl": "owner_write_public_read",
}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name: str, latencies_ms: list[float], **extra) -> dict:
    out = {
        "scenario": name,
        "n": len(latencies_ms),
        "p50_ms": round(pct(latencies_ms, 0.5), 2),
        "p95_ms": round(pct(latencies_ms, 0.95), 2),
        "max_ms": round(max(latencies_ms), 2) if latencies_ms else None,
        **extra,
    }
    print(json.dumps(out), flush=True)
    return out


class Bench:
    def __init__(self, project: live.LiveProject, users: list[str], ws_base: str | None = None):
        self.project = project
        ws_base = ws_base or project.url.replace("http://", "ws://")
        self.ws = ws_base + f"/api/v1/realtime?apikey={project.publishable}"
        self.http = httpx.AsyncClient(base_url=project.url, headers={"X-API-Key": project.secret}, timeout=30)
        self.users = users  # access tokens, for mixed principals
        self.settle = 0.0  # seconds between the last subscribe and the first fan-out write
        self.server_pid = 0
        self.wait_for_client = False  # the earlier client: a timeout (task + timer) per message

    async def subscriber(self, index: int, ready: asyncio.Event | None = None):
        ws = await websockets.connect(self.ws, max_size=None)
        if self.users and index % 2:
            await ws.send(json.dumps({"op": "auth", "access_token": self.users[index % len(self.users)]}))
            assert json.loads(await ws.recv())["op"] == "authenticated"
        await ws.send(json.dumps({"op": "subscribe", "id": "s", "collection": "posts"}))
        while json.loads(await ws.recv())["op"] != "subscribed":
            pass
        return ws

    async def write(self, n: int) -> float:
        sent = time.perf_counter()
        response = await self.http.post("/api/v1/collections/posts/documents", json={"n": n, "t": sent})
        assert response.status_code == 201, response.text
        return sent

    async def latency(self, writes: int) -> dict:
        ws = await self.subscriber(0)
        latencies, rest, after_commit = [], [], []
        for n in range(writes):
            sent = await self.write(n)
            answered = time.perf_counter()
            message = json.loads(await ws.recv())
            received = time.perf_counter()
            latencies.append((received - sent) * 1000)
            rest.append((answered - sent) * 1000)
            after_commit.append(max(0.0, received - answered) * 1000)
            assert message["document"]["n"] == n
        await ws.close()
        # The REST round trip itself, and what the event adds after the REST answer arrived.
        return summary(
            "one subscriber, REST create -> event",
            latencies,
            rest_p50_ms=round(pct(rest, 0.5), 2),
            rest_p95_ms=round(pct(rest, 0.95), 2),
            event_after_answer_p95_ms=round(pct(after_commit, 0.95), 2),
        )

    async def collect(self, socks, expected: int, deadline: list[float]):
        """Per socket: list of (seq, sent, received); `deadline[0]` moves to 15 s after the last write.

        One watchdog closes the sockets still short at the deadline, rather than a timeout per
        message (`asyncio.wait_for` made a task and a timer per event: on the shared 2 cores that
        load generator's cost was a third of a fan-out's latency). `--wait-for-client` restores it."""
        self.ended: dict[str, int] = {}
        expired = [False]

        def count(what: str) -> None:
            self.ended[what] = self.ended.get(what, 0) + 1

        def note(message: dict, seen: list) -> None:
            if message.get("op") == "event":
                seen.append((int(message["seq"]), message["document"]["t"], time.perf_counter()))
            elif message.get("op") == "error":
                count(message["error"]["code"])

        async def drain_per_message(ws):
            seen = []
            try:
                while len(seen) < expected:
                    note(json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline[0] - time.time()))), seen)
            except TimeoutError:
                count("late")
            except websockets.ConnectionClosed:
                count("closed")
            return seen

        async def drain(ws):
            seen = []
            try:
                while len(seen) < expected:
                    note(json.loads(await ws.recv()), seen)
            except websockets.ConnectionClosed:
                count("late" if expired[0] else "closed")
            return seen

        async def watchdog(tasks):
            while not all(task.done() for task in tasks):
                if time.time() > deadline[0]:
                    expired[0] = True
                    for ws, task in zip(socks, tasks, strict=True):
                        if not task.done():
                            await ws.close()
                    return
                await asyncio.sleep(0.1)

        if self.wait_for_client:
            return await asyncio.gather(*(drain_per_message(ws) for ws in socks))
        tasks = [asyncio.create_task(drain(ws)) for ws in socks]
        guard = asyncio.create_task(watchdog(tasks))
        results = await asyncio.gather(*tasks)
        guard.cancel()
        return results

    async def round_trips(self, pings: int, connections: int) -> dict:
        """Client message → answer on one socket (ping → pong), and opening+subscribing sockets: the
        per-message cost of the WebSocket face itself, with no document work."""
        opened_at = time.perf_counter()
        socks = []
        for i in range(0, connections, 50):
            socks += await asyncio.gather(*(self.subscriber(j) for j in range(i, min(connections, i + 50))))
        open_rate = connections / (time.perf_counter() - opened_at)
        ws = socks[0]
        latencies = []
        for _ in range(pings):
            sent = time.perf_counter()
            await ws.send('{"op": "ping"}')
            while json.loads(await ws.recv())["op"] != "pong":
                pass
            latencies.append((time.perf_counter() - sent) * 1000)
        for sock in socks:
            await sock.close()
        return summary("ping -> pong round trip", latencies, subscribed_sockets_per_second=round(open_rate, 1))

    async def sustained(self, subscribers: int, rate: float, duration: float) -> dict:
        socks = [await self.subscriber(i) for i in range(subscribers)]
        total = int(rate * duration)
        deadline = [time.time() + 3600]
        collector = asyncio.create_task(self.collect(socks, total, deadline))
        start = time.perf_counter()
        for n in range(total):
            await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
            await self.write(n)
        achieved = total / (time.perf_counter() - start)
        deadline[0] = time.time() + 15
        results = await collector
        latencies, lost, duplicated, reordered = [], 0, 0, 0
        for seen in results:
            seqs = [s for s, _, _ in seen]
            duplicated += len(seqs) - len(set(seqs))
            reordered += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
            lost += total - len(set(seqs))
            latencies += [(received - sent) * 1000 for _, sent, received in seen]
        for ws in socks:
            await ws.close()
        return summary(
            f"{subscribers} subscribers, {rate:g} writes/s for {duration:g} s",
            latencies,
            lost=lost,
            duplicated=duplicated,
            reordered=reordered,
            subscribers_ended=self.ended,
            writes_per_second_achieved=round(achieved, 2),
        )

    async def fanout(self, subscribers: int, writes: int = 5) -> dict:
        socks = []
        for i in range(0, subscribers, 100):
            socks += await asyncio.gather(*(self.subscriber(j) for j in range(i, min(subscribers, i + 100))))
        deadline = [time.time() + 3600]
        collector = asyncio.create_task(self.collect(socks, writes, deadline))
        print(json.dumps({"fanout_subscribed": len(socks)}), flush=True)
        await asyncio.sleep(self.settle)
        cpu_before = cpu_seconds(self.server_pid) if self.server_pid else 0.0
        client_before = time.process_time()
        for n in range(writes):
            await self.write(n)
            await asyncio.sleep(1.0)
        deadline[0] = time.time() + 15
        results = await collector
        # The server's own CPU for the whole fan-out (writes included): a figure the client's share of
        # a loaded host does not blur, unlike the latencies.
        cpu = cpu_seconds(self.server_pid) - cpu_before if self.server_pid else float("nan")
        client_cpu = time.process_time() - client_before  # this load generator's share of the 2 cores
        latencies = [(received - sent) * 1000 for seen in results for _, sent, received in seen]
        delivered = sum(len(seen) for seen in results)
        # Per write: when its first and its last subscriber had it (a slow first write shows here).
        per_write: dict[float, list[float]] = {}
        for seen in results:
            for _, sent, received in seen:
                per_write.setdefault(sent, []).append((received - sent) * 1000)
        spans = [[round(min(v), 1), round(pct(v, 0.5), 1), round(max(v), 1)] for _, v in sorted(per_write.items())]
        for ws in socks:
            await ws.close()
        return summary(
            f"one write fanned out to {subscribers} subscribers (mixed principals), x{writes}",
            latencies,
            delivered=delivered,
            expected=subscribers * writes,
            server_cpu_us_per_delivery=round(cpu * 1e6 / max(1, delivered), 1),
            client_cpu_us_per_delivery=round(client_cpu * 1e6 / max(1, delivered), 1),
            per_write_first_median_last_ms=spans,
            load_average=os.getloadavg()[0],
            subscribers_ended=self.ended,
        )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


async def idle(
    project: live.LiveProject, server: live.Server, count: int, tokens: list[str] | None = None, subscribe: bool = False
) -> dict:
    """`count` idle connections held; with `tokens`, each one signed in as its own user and subscribed,
    so the engine's idle re-check of every caller (every 2 s) is part of what is measured."""
    url = project.url.replace("http://", "ws://") + f"/api/v1/realtime?apikey={project.publishable}"
    before = rss_mib(server.process.pid)

    async def open_one(index: int):
        ws = await websockets.connect(url, open_timeout=60, max_size=None)
        if tokens:
            await ws.send(json.dumps({"op": "auth", "access_token": tokens[index]}))
            assert json.loads(await ws.recv())["op"] == "authenticated"
        if tokens or subscribe:
            await ws.send(json.dumps({"op": "subscribe", "id": "s", "collection": "posts"}))
            while json.loads(await ws.recv())["op"] != "subscribed":
                pass
        return ws

    socks, refused = [], 0
    for i in range(0, count, 50):
        opened = await asyncio.gather(*(open_one(j) for j in range(i, min(count, i + 50))), return_exceptions=True)
        socks += [ws for ws in opened if not isinstance(ws, BaseException)]
        refused += sum(1 for ws in opened if isinstance(ws, BaseException))
    await asyncio.sleep(2)
    # The server's CPU while nothing is written: what holding (and re-checking) the connections costs.
    window = 20.0
    cpu_start, wall_start = cpu_seconds(server.process.pid), time.perf_counter()
    await asyncio.sleep(window)
    idle_cpu = (cpu_seconds(server.process.pid) - cpu_start) / (time.perf_counter() - wall_start)
    pings = await asyncio.gather(*(ws.send('{"op": "ping"}') for ws in socks[:: max(1, count // 100)]))
    after = rss_mib(server.process.pid)
    for ws in socks:
        await ws.close()
    out = {
        "scenario": f"{count} idle connections"
        + (", each its own user, subscribed" if tokens else ", subscribed with the key" if subscribe else ""),
        "held": len(socks),
        "failed_to_open": refused,
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "idle_server_cpu_percent": round(idle_cpu * 100, 1),
        "pinged": len(pings),
    }
    print(json.dumps(out), flush=True)
    return out


async def anonymous_users(url: str, publishable: str, count: int) -> list[str]:
    """Distinct signed-in users without a password hash's cost each: anonymous sign-ins."""
    async with httpx.AsyncClient(base_url=url, headers={"X-API-Key": publishable}, timeout=60) as http:
        tokens: list[str] = []
        for i in range(0, count, 50):
            answers = await asyncio.gather(*(http.post("/api/v1/auth/anonymous") for _ in range(i, min(count, i + 50))))
            tokens += [answer.json()["access_token"] for answer in answers]
        return tokens


class Production:
    """The production shape (bench/parse_peer.py): REST on granian over WSGI, WebSockets on daphne,
    a Celery worker, PostgreSQL + Redis. Quacks like live.Server for this script."""

    def __init__(self, redis_url: str, workers: int, source: Path = ROOT, db_prefix: str = "basalt_anchor"):
        sys.path.insert(0, str(ROOT / "bench"))
        from parse_peer import BasaltWithRealtime

        self.basalt = BasaltWithRealtime("realtime", source, "production", redis_url, db_prefix)
        self.basalt.start(workers, 8)
        self.url = self.basalt.url
        self.ws_base = f"ws://127.0.0.1:{self.basalt.ws_port}"
        self.process = self.basalt.procs[-1]  # daphne: the fan-out's CPU is its CPU


def confine_ports(spec: str) -> None:
    """Servers on ports of a given range (a shared host's allotment) instead of any free one."""
    low, high = (int(part) for part in spec.split("-"))
    taken: set[int] = set()

    def free_port() -> int:
        for port in range(low, high + 1):
            if port in taken:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            taken.add(port)
            return port
        raise SystemExit(f"no free port in {spec}")

    live.free_port = free_port
    sys.path.insert(0, str(ROOT / "bench"))
    import anchors

    anchors.free_port = free_port


async def main(args) -> None:
    source = Path(args.source).resolve() if args.source else ROOT
    if args.ports:
        confine_ports(args.ports)
    if args.same_redis:
        # The given REDIS_URL's own database, not the one live test servers share below it.
        live.live_redis_url = lambda url: url
    print(json.dumps({"source": str(source)}), flush=True)
    if args.production:
        server = Production(args.redis, args.workers, source, args.db_prefix)
    else:
        live.ROOT = source  # `serve` is started from this tree
        server = live.start(Path(tempfile.mkdtemp()) / "data")
    try:
        project = live.make_project(server.url, "Realtime bench")
        live.create_collection(project, POSTS)
        users = []
        with httpx.Client(base_url=server.url, headers={"X-API-Key": project.publishable}, timeout=30) as http:
            for i in range(args.users):
                body = {"email": f"bench{i}-{os.getpid()}@example.com", "password": "a bench passphrase"}
                users.append(http.post("/api/v1/auth/signup", json=body).json()["access_token"])
        bench = Bench(project, users, getattr(server, "ws_base", None))
        bench.settle = args.settle
        bench.wait_for_client = args.wait_for_client
        bench.server_pid = server.process.pid
        profile = "postgresql+redis" if os.environ.get("DATABASE_URL") else "sqlite+in-memory"
        if args.production:
            profile = f"production: granian {args.workers} workers (REST) + daphne (WebSockets), PostgreSQL + Redis"
        print(json.dumps({"profile": profile}), flush=True)
        if args.profile_server:
            print(json.dumps({"server_pid": server.process.pid}), flush=True)
        results = []
        if args.pings:
            results.append(await bench.round_trips(args.pings, 500))
        if args.writes:
            results.append(await bench.latency(args.writes))
        if args.subscribers:
            results.append(await bench.sustained(args.subscribers, args.rate, args.duration))
        if args.fanout:
            results.append(await bench.fanout(args.fanout, args.fanout_writes))
        if args.idle:
            results.append(await idle(project, server, args.idle))
        if args.idle_users:
            tokens = await anonymous_users(server.url, project.publishable, args.idle_users)
            # The baseline in the same run: as many idle subscribed connections on the key alone.
            baseline = await idle(project, server, args.idle_users, subscribe=True)
            signed_in = await idle(project, server, args.idle_users, tokens)
            signed_in["cpu_vs_key_only"] = round(
                signed_in["idle_server_cpu_percent"] / max(0.1, baseline["idle_server_cpu_percent"]), 2
            )
            print(json.dumps(signed_in), flush=True)
            results += [baseline, signed_in]
        if args.json:
            Path(args.json).write_text(json.dumps({"profile": profile, "results": results}, indent=2))
    finally:
        server.basalt.stop() if args.production else live.stop(server)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--fanout", type=int, default=2000)
    parser.add_argument("--fanout-writes", type=int, default=5, help="writes fanned out, 1 s apart")
    parser.add_argument("--idle", type=int, default=0)
    parser.add_argument("--pings", type=int, default=0, help="ping round trips (and 500 sockets opened)")
    parser.add_argument("--idle-users", type=int, default=0, help="idle subscribed connections, one user each")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--json")
    parser.add_argument("--settle", type=float, default=0.0, help="pause before the fan-out writes (profiling)")
    parser.add_argument("--profile-server", action="store_true", help="print the server's pid first (for py-spy)")
    parser.add_argument(
        "--production", action="store_true", help="granian for REST + daphne for WebSockets on PostgreSQL + Redis"
    )
    parser.add_argument("--workers", type=int, default=2, help="granian workers with --production")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="Redis with --production")
    parser.add_argument("--source", help="the Basalt tree the servers run (default: this one), e.g. a before tree")
    parser.add_argument("--ports", help="servers' ports from this range, e.g. 18100-18199")
    parser.add_argument("--db-prefix", default="basalt_anchor", help="PostgreSQL database prefix with --production")
    parser.add_argument(
        "--wait-for-client", action="store_true", help="the earlier client (asyncio.wait_for per message), to compare"
    )
    parser.add_argument("--same-redis", action="store_true", help="servers use REDIS_URL's own database")
    asyncio.run(main(parser.parse_args()))

"""Files throughput and memory against a real server, each ratio against a baseline in the same run.

    .venv/bin/python bench/files_bench.py [--mib 1024] [--rounds 3] [--storage local|s3] [--server serve|granian]
                                          [--accel | --caddy] [--no-tus] [--big-only]

`serve` is the embedded `manage.py serve` (daphne; background tasks in-process). `granian` is the
production web process as docker/entrypoint.sh starts it (granian over WSGI, 2 workers × 4
threads); with DATABASE_URL and REDIS_URL set it runs the production profile against them, with a
separate Celery worker for the background thumbnails, as docker-compose does.

1. a MIB upload, simple (streamed raw body) and tus (64 MiB PATCHes, and one PATCH), vs a direct
   write of the same bytes to the same storage (local: a file copy into the storage folder; s3:
   boto3 upload_fileobj), and on local storage also vs the same client PUTting them over HTTP to a
   plain server that only writes them into the folder (`PutServer`); the server's RSS growth is
   sampled during each upload, and sha256 of the same bytes alone on one thread is timed as the
   ceiling of any upload that must hash them (`sha256_alone`);
2. the download (proxied; on s3 also by the 302 to a presigned URL) vs a direct read from the
   same storage (local: reading the file; s3: a boto3 GET), and vs the same client reading the
   same bytes from a minimal sendfile HTTP server (`client_ceiling`): on local storage the
   page-cache read is far faster than any HTTP client, so that ratio shows what the server costs;
3. thumbnails of a 12-megapixel JPEG: first render p95 over several files (racing the background
   render of the project size, as right after an upload), then cached p95 vs a metadata GET p95;
4. 200 concurrent 100 KiB uploads, simple and tus (creation POST + one PATCH): errors and p95.
`--accel` (granian, local storage) starts the shipped docker/Caddyfile in a real Caddy in front of
granian with FILES_ACCEL_REDIRECT set, and measures each round's download also through Caddy, where
Basalt checks and Caddy sends the file (X-Accel-Redirect); granian asked directly still streams it.
`--caddy` is the production edge as users meet it: the same Caddy and granian, and every request of
the bench (uploads, tus, downloads, thumbnails, the 200 small uploads) goes through Caddy; the RSS
growth is then that of granian and Caddy together, and the download is also asked of granian directly.
The bytes come from a file on disk and are sent in 1 MiB pieces, so the client never holds them whole.

Fairness: every timed write or read starts on a settled page cache (`settle`: sync(2), then wait
until the kernel holds little dirty or in-flight data), so no phase pays for the writeback of the
one before it (a direct write right after a 1 GiB upload did, and the reverse). On local storage
the direct write follows the upload path's policy: written and renamed into place, no fsync
(files/storage/local.py does not fsync either); both end with their bytes in the page cache.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "platform"))

import http_server  # noqa: E402  (bench/, this script's own folder)

from devtools.readiness import wait_until_answering  # noqa: E402
from tests.contract import live  # noqa: E402
from tests.files import front  # noqa: E402

CHUNK = 1024 * 1024
BIN = Path(sys.executable).parent
BENCH_SECRET_KEY = "files-bench-secret-key-not-for-production-0123456789"


class Granian:
    """The production web process (docker/entrypoint.sh's `web`), and a Celery worker beside it
    when there is a broker; stopped like a live.Server (SIGINT, then its database dropped)."""

    def __init__(self, data_dir: Path, overrides: dict[str, str]):
        # live.server_env maps REDIS_URL to the test suite's live-server database; the bench's
        # server uses the one it is given (set below for the production profile).
        redis_url = os.environ.pop("REDIS_URL", None)
        try:
            env, self.database = live.server_env(data_dir)
        finally:
            if redis_url:
                os.environ["REDIS_URL"] = redis_url
        env.update(overrides, PYTHONPATH=str(ROOT / "platform"), LOG_LEVEL="WARNING")
        if env.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            env.update(
                BASALT_PROFILE="production",
                SECRET_KEY=BENCH_SECRET_KEY,
                ALLOWED_HOSTS="127.0.0.1",
                SECURE_COOKIES="false",
                REDIS_URL=os.environ["REDIS_URL"],
            )
            env.pop("CELERY_TASK_ALWAYS_EAGER", None)
        self.env = env
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, cwd=ROOT, check=True)
        port = live.free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = data_dir.parent / f"granian-{port}.log"
        data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                http_server.granian_wsgi("basalt.wsgi:application", port, 2, os.environ.get("WEB_THREADS", "4")),
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            self.worker = None
            if env.get("BASALT_PROFILE") == "production":
                self.worker = subprocess.Popen(
                    [str(BIN / "celery"), "-A", "basalt", "worker", "--concurrency", "1", "--loglevel", "WARNING"],
                    env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
        failure = wait_until_answering(self.url + "/healthz", self.process, live.START_TIMEOUT)
        if failure is not None:
            self.stop()
            raise RuntimeError(f"granian {failure}: {self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        for process in (self.worker, self.process):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        if self.database:
            live._postgres(os.environ["DATABASE_URL"], f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def raw_get(url: str, path: str, headers: dict[str, str]) -> tuple[int, int]:
    """(status, body bytes) of one GET read with recv_into into one reused buffer: httpx's
    iter_bytes(1 MiB) tops out near 800 MiB/s here (it re-chunks through copies), which would
    measure the client instead of the server."""
    host, port = url.removeprefix("http://").split(":")
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept-Encoding: identity", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    buffer = memoryview(bytearray(CHUNK))
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            more = conn.recv(65536)
            if not more:
                raise RuntimeError("connection closed in the response head")
            head += more
        head, _, body = head.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
        if b"content-length" not in fields:
            raise RuntimeError(f"no Content-Length in the answer: {head[:300]!r}")
        left, read = int(fields[b"content-length"]) - len(body), len(body)
        while left > 0:
            got = conn.recv_into(buffer, min(left, CHUNK))
            if not got:
                break
            left, read = left - got, read + got
    return status, read


class PutServer:
    """The direct PUT of the same bytes to the same local storage: a minimal HTTP/1.1 server that
    writes every request body into `folder` as LocalWriter does (a temporary name, 1 MiB
    recv_into + write, renamed to a new name, no fsync) and answers 201. The upload's
    counterpart of SendfileServer: the same client, over the same loopback, without Basalt."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stored: list[Path] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        buffer = memoryview(bytearray(CHUNK))
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(65536) or b"\r\n\r\n"
                head, _, body = head.partition(b"\r\n\r\n")
                fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
                left = int({k.strip().lower(): v for k, v in fields.items()}[b"content-length"]) - len(body)
                final = self.folder / f"direct-put-{len(self.stored)}.bin"
                temp = final.with_name(f".part-{final.name}")
                with temp.open("wb") as out:
                    out.write(body)
                    while left > 0:
                        got = conn.recv_into(buffer, min(left, CHUNK))
                        if not got:
                            break
                        out.write(buffer[:got])
                        left -= got
                os.replace(temp, final)
                self.stored.append(final)
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def put(self, source: Path) -> float:
        """Seconds for the same client to PUT `source` here, sent as simple_upload sends it."""
        settle()
        start = time.perf_counter()
        answer = httpx.put(
            self.url,
            content=pieces(source),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(source.stat().st_size)},
            timeout=600,
        )
        seconds = time.perf_counter() - start
        assert answer.status_code == 201, answer.status_code
        for path in self.stored:
            path.unlink(missing_ok=True)
        return seconds

    def close(self) -> None:
        self.listener.close()


class SendfileServer:
    """The client's ceiling: a minimal HTTP/1.1 server answering every GET with one file by
    sendfile(2) (no Python per byte), so `download / ceiling` is what Basalt's server costs."""

    def __init__(self, path: Path):
        self.path = path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, self.path.open("rb") as source:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536) or b"\r\n\r\n"
                size = self.path.stat().st_size
                head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode())
                conn.sendfile(source)

    def close(self) -> None:
        self.listener.close()


def rss_mib(pid: int) -> float:
    total = 0
    for candidate in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [int(x) for x in out.split()]


def api_while_slow_downloads(
    url: str, download: str, api: str, headers: dict[str, str], count: int, seconds: float = 6.0
) -> dict[str, float]:
    """API GETs (p50/p95 ms, failures within 10 s) while `count` clients download slowly (64 KiB per
    50 ms): a streamed download holds a web thread for as long as its client takes."""
    stop = threading.Event()
    host, port = url.removeprefix("http://").split(":")
    lines = [f"GET {download} HTTP/1.1", f"Host: {host}:{port}", "Accept-Encoding: identity"]
    request = ("\r\n".join(lines + [f"{name}: {value}" for name, value in headers.items()]) + "\r\n\r\n").encode()

    def slow() -> None:
        try:
            with socket.socket() as conn:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
                conn.settimeout(30)
                conn.connect((host, int(port)))
                conn.sendall(request)
                while not stop.is_set() and conn.recv(65536):
                    time.sleep(0.05)
        except OSError:
            pass

    readers = [threading.Thread(target=slow, daemon=True) for _ in range(count)]
    for reader in readers:
        reader.start()
    time.sleep(1.0)
    timings, failures = [], 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        while time.monotonic() < deadline:
            start = time.perf_counter()
            try:
                client.get(api).raise_for_status()
                timings.append(time.perf_counter() - start)
            except httpx.HTTPError:
                failures += 1
    stop.set()
    for reader in readers:
        reader.join(timeout=10)
    return {
        "api_gets": len(timings),
        "p50_ms": round(statistics.median(timings) * 1000, 1) if timings else None,
        "p95_ms": round(p95(timings) * 1000, 1) if timings else None,
        "failed": failures,
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time these processes and their children have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for candidate in {*pids, *(child for pid in pids for child in children(pid))}:
        try:
            fields = Path(f"/proc/{candidate}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class Sampler:
    """Peak RSS of the server process trees (summed) while a block runs."""

    def __init__(self, pids: list[int]):
        self.pids, self.peak, self.stop = pids, 0.0, threading.Event()

    def rss(self) -> float:
        return sum(rss_mib(pid) for pid in self.pids)

    def __enter__(self):
        self.base = self.rss()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def growth(self) -> float:
        return max(0.0, self.peak - self.base)


def dirty_mib() -> float:
    """Dirty and in-flight (writeback) page-cache data, MiB."""
    total = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("Dirty", "Writeback"):
            total += int(value.split()[0])
    return total / 1024


def settle(limit_mib: float = 16, timeout: float = 60) -> None:
    """Flush what earlier phases wrote before the next one is timed (see the module docstring)."""
    os.sync()
    deadline = time.monotonic() + timeout
    while dirty_mib() > limit_mib and time.monotonic() < deadline:
        time.sleep(0.1)


def direct_write(source: Path, target: Path) -> float:
    """Seconds to write `source` to `target` the way LocalWriter does: a temporary name in the
    same folder, 1 MiB writes, closed and renamed to a name no file has; no fsync.

    A file already at `target` is removed first, untimed: renaming over an existing name makes ext4
    allocate and start writing back the new file's blocks inside rename(2) (auto_da_alloc), +330-400
    ms for 1 GiB here, which an upload never pays (its key is new). Until 2026-12-06 the bench's
    rounds after the first renamed over the previous round's copy: their baseline ran at 0.7-1.1
    GB/s against 2.2-2.6 GB/s for a new name, and flattered their upload ratios."""
    target.unlink(missing_ok=True)
    settle()
    start = time.perf_counter()
    temp = target.with_name(f".part-{target.name}")
    with source.open("rb") as src, temp.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
    os.replace(temp, target)
    return time.perf_counter() - start


def sha256_alone(source: Path) -> float:
    """Seconds to sha256 `source` read from the page cache in 1 MiB pieces on one thread: the one
    piece of an upload's work that cannot be split over cores, so `direct write / this` bounds the
    upload's ratio on local storage whatever the rest costs."""
    digest = hashlib.sha256()
    settle()
    start = time.perf_counter()
    with source.open("rb") as src:
        while block := src.read(CHUNK):
            digest.update(block)
    return time.perf_counter() - start


def pieces(path: Path):
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            yield block


def simple_upload(http: httpx.Client, pids: list[int], source: Path) -> tuple[float, httpx.Response, float]:
    """(seconds, answer, server RSS growth in MiB) of one raw-body upload of `source`, sent in
    1 MiB pieces with its Content-Length."""
    settle()
    with Sampler(pids) as rss:
        start = time.perf_counter()
        answer = http.post(
            "/api/v1/files?name=big.bin",
            content=pieces(source),
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(source.stat().st_size)},
        )
        seconds = time.perf_counter() - start
    answer.raise_for_status()
    return seconds, answer, rss.growth


def tus_upload(http: httpx.Client, pids: list[int], source: Path, patch: int) -> tuple[float, float, str]:
    """(seconds, server RSS growth in MiB, file id) of one tus upload of `source` in PATCHes of
    `patch` bytes. Each PATCH goes out in 1 MiB views with its length, as the SDK sends it: one
    large bytes body went out at ~150 MiB/s (httpcore copies the rest after each partial send).
    A PATCH as large as the file is what tus-js-client and tuspy send by default."""
    size = source.stat().st_size
    settle()
    with Sampler(pids) as rss:
        start = time.perf_counter()
        created = http.post("/api/v1/files/tus", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(size)})
        created.raise_for_status()
        location, offset = created.headers["Location"], 0
        with source.open("rb") as src:
            while offset < size:
                length = min(patch, size - offset)

                def body(length=length):
                    left = length
                    while left:
                        block = src.read(min(CHUNK, left))
                        left -= len(block)
                        yield block

                done = http.patch(
                    location,
                    content=body(),
                    headers={
                        "Content-Length": str(length),
                        "Tus-Resumable": "1.0.0",
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                    },
                )
                done.raise_for_status()
                offset = int(done.headers["Upload-Offset"])
                src.seek(offset)
        seconds = time.perf_counter() - start
    return seconds, rss.growth, location.rstrip("/").rsplit("/", 1)[-1]  # the upload id is the file id


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--server", choices=["serve", "granian"], default="serve")
    parser.add_argument("--thumbs", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the big transfers, each with its own baseline")
    parser.add_argument(
        "--only-simple",
        type=int,
        metavar="ROUNDS",
        default=0,
        help="only the direct write and the simple upload, this many rounds of each (for before/after runs)",
    )
    parser.add_argument("--tus-patch-mib", type=int, default=64, help="tus PATCH size (the SDK's)")
    parser.add_argument("--big-only", action="store_true", help="only the big transfers")
    parser.add_argument("--accel", action="store_true", help="granian behind Caddy with FILES_ACCEL_REDIRECT too")
    parser.add_argument(
        "--caddy", action="store_true", help="as --accel, with every request through Caddy (the production edge)"
    )
    parser.add_argument("--no-tus", action="store_true", help="skip the two big tus uploads")
    args = parser.parse_args()
    args.accel = args.accel or args.caddy
    if args.accel and (args.server != "granian" or args.storage != "local"):
        parser.error("--accel and --caddy measure granian on local storage")
    if args.only_simple and args.storage != "local":
        parser.error("--only-simple measures local storage")
    work = Path(tempfile.mkdtemp(prefix="files-bench-"))
    weed = None
    overrides: dict[str, str] = {}
    if args.storage == "s3":
        from tests.files import seaweed

        weed = seaweed.start(work / "weed")
        # Downloads may also be handed to the bucket (302 to a presigned URL): measured beside the
        # proxied default, which every other request here asks for with ?redirect=0.
        overrides = {**weed.env, "FILES_REDIRECT_DOWNLOADS": "true"}
    if args.accel:
        overrides["FILES_ACCEL_REDIRECT"] = front.ACCEL_PREFIX
    edge = put_server = None
    try:
        if args.server == "granian":
            server = Granian(work / "data", overrides)
            threads = os.environ.get("WEB_THREADS", "4")
            label = f"granian WSGI, 2 x {threads} threads, {server.env.get('BASALT_PROFILE', 'embedded')} profile"
            if args.accel:
                try:
                    edge = front.start_caddy(work / "caddy", int(server.url.rsplit(":", 1)[1]), work / "data" / "files")
                except BaseException:
                    server.stop()
                    raise
                label += ", and behind Caddy (docker/Caddyfile) with FILES_ACCEL_REDIRECT"
                label += "; every request through Caddy" if args.caddy else ""
        else:
            server = live.start(work / "data", overrides)
            label = "serve (daphne)"
    except BaseException:
        if weed is not None:
            seaweed.stop(weed)
        shutil.rmtree(work, ignore_errors=True)
        raise
    database = "postgresql" if server.env.get("DATABASE_URL") else "sqlite"
    # Where the bench's requests go, and the processes whose memory an upload may grow.
    front_url = edge.url if args.caddy else server.url
    serving = [server.process.pid] + ([edge.process.pid] if edge is not None else [])
    sampled = serving if args.caddy else serving[:1]
    results: dict[str, object] = {"mib": args.mib, "storage": args.storage, "server": label, "database": database}
    try:
        keys = live.make_project(front_url, "bench")
        headers = {"X-API-Key": keys.secret}
        http = httpx.Client(base_url=front_url, headers=headers, timeout=600)
        with httpx.Client(base_url=front_url, timeout=60) as manage:
            manage.patch(
                f"/api/v1/manage/projects/{keys.ref}/settings",
                json={"files": {"max_size": 5 * 1024**3, "thumbnail_sizes": ["256x256"]}},
                headers={"Authorization": f"Bearer {keys.owner_token}"},
            ).raise_for_status()
        source = work / "source.bin"
        with source.open("wb") as out:
            for _ in range(args.mib):
                out.write(os.urandom(CHUNK))
        size = source.stat().st_size

        # baseline: the same bytes straight to the same storage
        target = work / "data" / "files" / "direct-baseline.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        client = seaweed.s3_client(weed) if weed is not None else None
        # Local storage: also the same bytes PUT over HTTP by the same client to a plain server that
        # only writes them into the folder (the upload's counterpart of the download's direct GET).
        put_server = PutServer(target.parent) if client is None else None

        def direct_put_once() -> float:
            if client is None:
                return direct_write(source, target)
            settle()
            start = time.perf_counter()
            with source.open("rb") as src:
                client.upload_fileobj(src, seaweed.BUCKET, "direct-baseline.bin")
            return time.perf_counter() - start

        # Warm every worker process first (new connections spread over granian's workers): the
        # first upload a process stores builds its storage client (boto3 loads ~30 MiB of service
        # models once), which is not what an upload holds.
        warm = b"\x00" * (3 * CHUNK)
        for index in range(8):
            httpx.post(
                f"{front_url}/api/v1/files?name=warm{index}.bin",
                content=warm,
                headers={**headers, "Content-Type": "application/octet-stream"},
                timeout=60,
            ).raise_for_status()

        if args.only_simple:
            rounds = []
            for _ in range(args.only_simple):
                direct = direct_write(source, target)
                simple, answer, growth = simple_upload(http, sampled, source)
                http.delete(f"/api/v1/files/{answer.json()['id']}").raise_for_status()
                rounds.append((direct, simple, growth))
            results.update(
                direct_put_mib_s=[round(args.mib / d, 1) for d, _, _ in rounds],
                simple_upload_mib_s=[round(args.mib / s, 1) for _, s, _ in rounds],
                simple_vs_direct=[round(d / s, 2) for d, s, _ in rounds],
                simple_rss_growth_mib=[round(g, 1) for _, _, g in rounds],
                load_average=os.getloadavg(),
            )
            print(json.dumps(results))
            return

        # The transfers in rounds, each ratio against the direct transfer of the same round: the
        # host is shared, and its load moves between rounds more than between two phases of one.
        per_round: list[dict[str, object]] = []
        for _ in range(args.rounds):
            measured: dict[str, object] = {}
            # CPU seconds beside the times (this process: the direct write, or the client's side of an
            # upload; the server's processes, with Caddy when it is in front): what each path costs.
            bench_cpu = time.process_time()
            direct_put = direct_put_once()
            direct_put_cpu = time.process_time() - bench_cpu
            http_put = put_server.put(source) if put_server is not None else None
            hashing = sha256_alone(source)
            bench_cpu, server_cpu = time.process_time(), cpu_seconds(serving)
            simple, answer, simple_growth = simple_upload(http, sampled, source)
            simple_cpu = {"server": cpu_seconds(serving) - server_cpu, "client": time.process_time() - bench_cpu}
            big_id = answer.json()["id"]

            tus_id = tus_one_id = None
            if not args.no_tus:
                tus, tus_growth, tus_id = tus_upload(http, sampled, source, args.tus_patch_mib * CHUNK)
                tus_one, tus_one_growth, tus_one_id = tus_upload(http, sampled, source, size)

            # Server CPU (web processes, and Caddy when it is in front) per download, beside the time.
            settle()
            cpu, start = cpu_seconds(serving), time.perf_counter()
            status, read = raw_get(server.url, f"/api/v1/files/{big_id}/content?redirect=0", headers)
            download, download_cpu = time.perf_counter() - start, cpu_seconds(serving) - cpu
            assert (status, read) == (200, size), (status, read)
            if edge is not None:
                # The production path: the request through Caddy, Basalt's checks, Caddy sends the file.
                settle()
                cpu, start = cpu_seconds(serving), time.perf_counter()
                status, read = raw_get(edge.url, f"/api/v1/files/{big_id}/content", headers)
                accelerated, accelerated_cpu = time.perf_counter() - start, cpu_seconds(serving) - cpu
                assert (status, read) == (200, size), (status, read)
            # The same file from a plain static file server (sendfile, as nginx serves it) read by
            # the same client: on local storage that is the direct GET from the same storage.
            served = target if weed is None else source
            ceiling_server = SendfileServer(served)
            settle()
            start = time.perf_counter()
            status, read = raw_get(ceiling_server.url, "/", {})
            ceiling = time.perf_counter() - start
            ceiling_server.close()
            assert (status, read) == (200, size), (status, read)
            settle()
            start = time.perf_counter()
            with served.open("rb") as src:
                while src.read(CHUNK):
                    pass
            page_cache = time.perf_counter() - start
            if weed is None:
                direct_get = ceiling
            else:
                settle()
                start = time.perf_counter()
                body = client.get_object(Bucket=seaweed.BUCKET, Key="direct-baseline.bin")["Body"]
                for _ in body.iter_chunks(CHUNK):
                    pass
                direct_get = time.perf_counter() - start

            measured.update(
                direct_put_mib_s=round(args.mib / direct_put, 1),
                simple_upload_mib_s=round(args.mib / simple, 1),
                simple_vs_direct=round(direct_put / simple, 2),
                simple_rss_growth_mib=round(simple_growth, 1),
                direct_put_cpu_s=round(direct_put_cpu, 2),
                sha256_alone_mib_s=round(args.mib / hashing, 1),
                upload_ceiling_vs_direct=round(direct_put / hashing, 2),
                simple_cpu_s={name: round(value, 2) for name, value in simple_cpu.items()},
                download_mib_s=round(args.mib / download, 1),
                download_server_cpu_s=round(download_cpu, 2),
                direct_get_mib_s=round(args.mib / direct_get, 1),
                download_vs_direct=round(direct_get / download, 2),
                static_server_mib_s=round(args.mib / ceiling, 1),
                download_vs_static_server=round(ceiling / download, 2),
                page_cache_read_mib_s=round(args.mib / page_cache, 1),
            )
            if http_put is not None:
                measured.update(
                    direct_http_put_mib_s=round(args.mib / http_put, 1),
                    simple_vs_http_put=round(http_put / simple, 2),
                )
                if not args.no_tus:
                    measured.update(
                        tus_vs_http_put=round(http_put / tus, 2), tus_one_patch_vs_http_put=round(http_put / tus_one, 2)
                    )
            if not args.no_tus:
                measured.update(
                    tus_upload_mib_s=round(args.mib / tus, 1),
                    tus_vs_direct=round(direct_put / tus, 2),
                    tus_rss_growth_mib=round(tus_growth, 1),
                    tus_one_patch_mib_s=round(args.mib / tus_one, 1),
                    tus_one_patch_vs_direct=round(direct_put / tus_one, 2),
                    tus_one_patch_rss_growth_mib=round(tus_one_growth, 1),
                )
            if edge is not None:
                measured.update(
                    download_caddy_accel_mib_s=round(args.mib / accelerated, 1),
                    download_caddy_accel_vs_direct=round(direct_get / accelerated, 2),
                    download_caddy_accel_server_cpu_s=round(accelerated_cpu, 2),
                )
            if weed is not None:
                settle()
                start = time.perf_counter()
                moved = http.get(f"/api/v1/files/{big_id}/content")
                assert moved.status_code == 302, moved.status_code
                location = httpx.URL(moved.headers["Location"])
                status, read = raw_get(f"http://{location.host}:{location.port}", location.raw_path.decode(), {})
                redirected = time.perf_counter() - start
                assert (status, read) == (200, size), (status, read)
                measured.update(
                    download_redirect_mib_s=round(args.mib / redirected, 1),
                    download_redirect_vs_direct=round(direct_get / redirected, 2),
                )

            measured["load_average_1m"] = round(os.getloadavg()[0], 2)
            per_round.append(measured)
            print(json.dumps(measured), file=sys.stderr, flush=True)  # kept if a later round is cut
            for file_id in filter(None, (big_id, tus_id, tus_one_id)):
                http.delete(f"/api/v1/files/{file_id}").raise_for_status()
        for name in per_round[0]:
            values = [measured[name] for measured in per_round]
            results[name] = values if args.rounds > 1 else values[0]

        if edge is not None:
            # More slow downloads than the web processes have threads (2 x WEB_THREADS), then API
            # GETs: from granian itself, and through Caddy, where Basalt only checks and names the file.
            _, answer, _ = simple_upload(http, sampled, source)
            held = answer.json()["id"]
            slow = 2 * int(os.environ.get("WEB_THREADS", "4")) + 4
            download, api = f"/api/v1/files/{held}/content", f"/api/v1/files/{held}"
            results[f"api_get_while_{slow}_slow_downloads"] = {
                "granian": api_while_slow_downloads(server.url, download + "?redirect=0", api, headers, slow),
                "caddy_accel": api_while_slow_downloads(edge.url, download, api, headers, slow),
                "caddy_accel_no_downloads": api_while_slow_downloads(edge.url, download, api, headers, 0, 3.0),
            }
            http.delete(f"/api/v1/files/{held}").raise_for_status()

        if args.big_only:
            results["load_average"] = os.getloadavg()
            print(json.dumps(results, indent=2))
            return

        # thumbnails of 12-megapixel JPEGs
        from PIL import Image

        first, cached, meta, stored_ids = [], [], [], []
        for index in range(args.thumbs):
            buffer = io.BytesIO()
            Image.effect_noise((4000, 3000), 60 + index).convert("RGB").save(buffer, "JPEG", quality=85)
            stored = http.post(
                f"/api/v1/files?name=p{index}.jpg", content=buffer.getvalue(), headers={"Content-Type": "image/jpeg"}
            ).json()
            stored_ids.append(stored["id"])
            # The background render of the project's size (256x256 cover) races this one, as it
            # would for a client asking right after its upload; contain is not in that list.
            start = time.perf_counter()
            http.get(f"/api/v1/files/{stored['id']}/content?thumb=256x256&fit=contain&redirect=0").raise_for_status()
            first.append(time.perf_counter() - start)
        # Cached: once the renders are done, the kept thumbnail against a metadata GET of the same
        # file, interleaved so that both see the same host; 10 passes (80 of each): with 3 passes the
        # p95 of 24 samples was their second slowest, and one stall on the shared host decided it.
        for _ in range(10):
            for file_id in stored_ids:
                start = time.perf_counter()
                http.get(f"/api/v1/files/{file_id}/content?thumb=256x256&fit=contain&redirect=0").raise_for_status()
                cached.append(time.perf_counter() - start)
                start = time.perf_counter()
                http.get(f"/api/v1/files/{file_id}").raise_for_status()
                meta.append(time.perf_counter() - start)
        results.update(
            thumb_first_p95_ms=round(p95(first) * 1000, 1),
            thumb_cached_p95_ms=round(p95(cached) * 1000, 1),
            metadata_get_p95_ms=round(p95(meta) * 1000, 1),
            cached_vs_metadata=round(p95(cached) / p95(meta), 2),
        )

        # 200 concurrent small uploads
        small = os.urandom(100 * 1024)
        timings: list[float] = []
        errors: list[int] = []

        def one(index: int) -> None:
            start = time.perf_counter()
            try:
                answer = httpx.post(
                    f"{front_url}/api/v1/files?name=s{index}.bin",
                    content=small,
                    headers={**headers, "Content-Type": "application/octet-stream"},
                    timeout=120,
                )
                if answer.status_code != 201:
                    errors.append(answer.status_code)
            except httpx.HTTPError:
                errors.append(-1)
            timings.append(time.perf_counter() - start)

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=200) as pool:
            list(pool.map(one, range(200)))
        results.update(
            small_uploads=200,
            small_errors=len(errors),
            small_p95_ms=round(p95(timings) * 1000, 1),
            small_total_s=round(time.perf_counter() - start, 2),
        )

        # 200 concurrent small tus uploads, as tus-js-client makes them: a creation POST, then one PATCH
        tus_timings: list[float] = []
        tus_errors: list[str] = []
        tus_headers = {**headers, "Tus-Resumable": "1.0.0"}

        def one_tus(index: int) -> None:
            start = time.perf_counter()
            try:
                with httpx.Client(base_url=front_url, headers=tus_headers, timeout=120) as client:
                    created = client.post("/api/v1/files/tus", headers={"Upload-Length": str(len(small))})
                    if created.status_code != 201:
                        tus_errors.append(f"POST {created.status_code}")
                        return
                    done = client.patch(
                        created.headers["Location"],
                        content=small,
                        headers={"Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
                    )
                    if done.status_code != 204 or done.headers.get("Upload-Offset") != str(len(small)):
                        tus_errors.append(f"PATCH {done.status_code}")
            except httpx.HTTPError as exc:
                tus_errors.append(type(exc).__name__)
            finally:
                tus_timings.append(time.perf_counter() - start)

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=200) as pool:
            list(pool.map(one_tus, range(200)))
        results.update(
            small_tus_errors=len(tus_errors),
            small_tus_error_kinds=sorted(set(tus_errors)),
            small_tus_p95_ms=round(p95(tus_timings) * 1000, 1),
            small_tus_total_s=round(time.perf_counter() - start, 2),
        )
        results["load_average"] = os.getloadavg()
        print(json.dumps(results, indent=2))
    finally:
        if put_server is not None:
            put_server.close()
        if edge is not None:
            front.stop(edge)
        server.stop() if isinstance(server, Granian) else live.stop(server)
        if weed is not None:
            from tests.files import seaweed

            seaweed.stop(weed)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Files throughput and memory against a real server, each ratio against a baseline in the same run.

    .venv/bin/python bench/files_bench.py [--mib 1024] [--storage local|s3] [--server serve|granian]

1. a MIB upload, simple (streamed raw body) and tus (8 MiB PATCHes), vs a direct write of the same
   bytes to the same storage (local: a file copy into the storage folder; s3: boto3 upload_fileobj);
   the server's RSS growth is sampled during each upload;
2. the download vs a direct read from the same storage;
3. thumbnails of a 12-megapixel JPEG: first render p95 over several files, cached p95 vs a metadata GET p95;
4. 200 concurrent 100 KiB uploads: errors and p95.
The bytes come from a file on disk and are sent in 1 MiB pieces, so the client never holds them whole.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
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

from tests.contract import live  # noqa: E402

CHUNK = 1024 * 1024


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


class Sampler:
    """Peak RSS of the server process tree while a block runs."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self.base = rss_mib(self.pid)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def growth(self) -> float:
        return max(0.0, self.peak - self.base)


def pieces(path: Path):
    with path.open("rb") as handle:
        while block := handle.read(CHUNK):
            yield block


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[18] if len(values) >= 2 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--storage", choices=["local", "s3"], default="local")
    parser.add_argument("--thumbs", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="files-bench-"))
    weed = None
    overrides: dict[str, str] = {}
    if args.storage == "s3":
        from tests.files import seaweed

        weed = seaweed.start(work / "weed")
        overrides = weed.env
    server = live.start(work / "data", overrides)
    results: dict[str, object] = {"mib": args.mib, "storage": args.storage, "server": "serve (daphne)"}
    try:
        keys = live.make_project(server.url, "bench")
        headers = {"X-API-Key": keys.secret}
        http = httpx.Client(base_url=server.url, headers=headers, timeout=600)
        with httpx.Client(base_url=server.url, timeout=60) as manage:
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
        start = time.perf_counter()
        if weed is None:
            target = work / "data" / "files" / "direct-baseline.bin"
            target.parent.mkdir(parents=True, exist_ok=True)
            with source.open("rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
                dst.flush()
                os.fsync(dst.fileno())
        else:
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=weed.endpoint,
                aws_access_key_id=seaweed.ACCESS_KEY,
                aws_secret_access_key=seaweed.SECRET_KEY,
                region_name="us-east-1",
            )
            with source.open("rb") as src:
                client.upload_fileobj(src, seaweed.BUCKET, "direct-baseline.bin")
        direct_put = time.perf_counter() - start

        with Sampler(server.process.pid) as simple_rss:
            start = time.perf_counter()
            answer = http.post(
                "/api/v1/files?name=big.bin",
                content=pieces(source),
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            )
            simple = time.perf_counter() - start
        answer.raise_for_status()
        big_id = answer.json()["id"]

        with Sampler(server.process.pid) as tus_rss:
            start = time.perf_counter()
            created = http.post("/api/v1/files/tus", headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(size)})
            created.raise_for_status()
            location, offset = created.headers["Location"], 0
            with source.open("rb") as src:
                while offset < size:
                    piece = src.read(8 * CHUNK)
                    done = http.patch(
                        location,
                        content=piece,
                        headers={
                            "Tus-Resumable": "1.0.0",
                            "Upload-Offset": str(offset),
                            "Content-Type": "application/offset+octet-stream",
                        },
                    )
                    done.raise_for_status()
                    offset = int(done.headers["Upload-Offset"])
            tus = time.perf_counter() - start

        start = time.perf_counter()
        read = 0
        with http.stream("GET", f"/api/v1/files/{big_id}/content") as stream:
            for block in stream.iter_bytes(CHUNK):
                read += len(block)
        download = time.perf_counter() - start
        assert read == size
        start = time.perf_counter()
        if weed is None:
            with (work / "data" / "files" / "direct-baseline.bin").open("rb") as src:
                while src.read(CHUNK):
                    pass
        else:
            body = client.get_object(Bucket=seaweed.BUCKET, Key="direct-baseline.bin")["Body"]
            for _ in body.iter_chunks(CHUNK):
                pass
        direct_get = time.perf_counter() - start

        results.update(
            direct_put_mib_s=round(args.mib / direct_put, 1),
            simple_upload_mib_s=round(args.mib / simple, 1),
            simple_vs_direct=round(direct_put / simple, 2),
            simple_rss_growth_mib=round(simple_rss.growth, 1),
            tus_upload_mib_s=round(args.mib / tus, 1),
            tus_vs_direct=round(direct_put / tus, 2),
            tus_rss_growth_mib=round(tus_rss.growth, 1),
            download_mib_s=round(args.mib / download, 1),
            direct_get_mib_s=round(args.mib / direct_get, 1),
            download_vs_direct=round(direct_get / download, 2),
        )

        # thumbnails of 12-megapixel JPEGs
        from PIL import Image

        first, cached, meta = [], [], []
        for index in range(args.thumbs):
            buffer = io.BytesIO()
            Image.effect_noise((4000, 3000), 60 + index).convert("RGB").save(buffer, "JPEG", quality=85)
            stored = http.post(
                f"/api/v1/files?name=p{index}.jpg", content=buffer.getvalue(), headers={"Content-Type": "image/jpeg"}
            ).json()
            # the background render of the project's size races this one; time 128x128-contain, not in the list
            for timings, spec in ((first, "256x256&fit=contain"), (cached, "256x256&fit=contain")):
                start = time.perf_counter()
                http.get(f"/api/v1/files/{stored['id']}/content?thumb={spec}").raise_for_status()
                timings.append(time.perf_counter() - start)
            for _ in range(5):
                start = time.perf_counter()
                http.get(f"/api/v1/files/{stored['id']}").raise_for_status()
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
                    f"{server.url}/api/v1/files?name=s{index}.bin",
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
        results["load_average"] = os.getloadavg()
        print(json.dumps(results, indent=2))
    finally:
        live.stop(server)
        if weed is not None:
            from tests.files import seaweed

            seaweed.stop(weed)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

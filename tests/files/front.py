"""The production edge on loopback: the shipped docker/Caddyfile run by a real Caddy (Debian's 2.6, as
.ci/steps/files.sh installs it) in front of a web process, for the tests and files_bench.py.

The Caddyfile is used as shipped; only its upstream addresses and the files folder (compose names
and paths) are replaced, and the admin endpoint is turned off so runs do not share its port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from devtools.readiness import wait_until_answering
from tests.contract import live

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "docker" / "Caddyfile"
# What docker-compose.yml sets for `web` and what the Caddyfile strips.
ACCEL_PREFIX = "/_basalt/files"


def caddy_binary() -> str | None:
    return shutil.which("caddy")


@dataclass
class Process:
    url: str
    process: subprocess.Popen
    log: Path

    def log_tail(self, size: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-size:]


def stop(server: Process) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


def start_caddy(folder: Path, web_port: int, files_root: Path) -> Process:
    """docker/Caddyfile in front of 127.0.0.1:`web_port`, serving accelerated downloads from `files_root`."""
    folder.mkdir(parents=True, exist_ok=True)
    text = CADDYFILE.read_text()
    for compose_name, here in (
        ("reverse_proxy web:8000", f"reverse_proxy 127.0.0.1:{web_port}"),
        ("reverse_proxy realtime:8001", f"reverse_proxy 127.0.0.1:{live.free_port()}"),
        ("root * /srv/basalt-data/files", f"root * {files_root}"),
    ):
        assert text.count(compose_name) == 1, f"docker/Caddyfile no longer has one `{compose_name}`"
        text = text.replace(compose_name, here)
    config = folder / "Caddyfile"
    config.write_text("{\n\tadmin off\n}\n" + text)
    port = live.free_port()
    env = {
        **os.environ,
        "BASALT_SITE_ADDRESS": f"http://127.0.0.1:{port}",
        "HOME": str(folder),
        "XDG_CONFIG_HOME": str(folder / "config"),
        "XDG_DATA_HOME": str(folder / "data"),
    }
    log = folder / "caddy.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [caddy_binary() or "caddy", "run", "--config", str(config), "--adapter", "caddyfile"],
            env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Process(f"http://127.0.0.1:{port}", process, log)
    failure = wait_until_answering(server.url + "/healthz", process, 30)
    if failure is not None:
        stop(server)
        raise AssertionError(f"caddy {failure}: {server.log_tail()}")
    return server


def start_granian(data_dir: Path, overrides: dict[str, str], threads: int = 2) -> Process:
    """basalt.wsgi on granian over WSGI (the `web` role), SQLite in `data_dir`, local storage."""
    env, _ = live.server_env(data_dir, own_database=False)
    env.update(overrides, PYTHONPATH=str(ROOT / "platform"), LOG_LEVEL="WARNING")
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True, timeout=300)
    port = live.free_port()
    log = data_dir.parent / f"granian-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "granian", "basalt.wsgi:application", "--interface", "wsgi", "--host",
             "127.0.0.1", "--port", str(port), "--workers", "1", "--blocking-threads", str(threads)],
            env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Process(f"http://127.0.0.1:{port}", process, log)
    failure = wait_until_answering(server.url + "/healthz", process, live.START_TIMEOUT)
    if failure is not None:
        stop(server)
        raise AssertionError(f"granian {failure}: {server.log_tail()}")
    return server

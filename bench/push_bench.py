"""Push delivery throughput against loopback provider stand-ins (issue 12's speed table).

Usage: DATABASE_URL=postgres://… [REDIS_URL=redis://…/N] BASALT_DATA_DIR=$(mktemp -d) \
           python bench/push_bench.py [--fcm 100000] [--apns 10000] [--webpush 10000] [--processes 2]
The stand-ins (tests/push/standins.py) run in a child process. With REDIS_URL, a real
`celery worker` (prefork, --processes children, PUSH_SEND_TASKS the same) does the sending: the
push is sent through the API's service, queued on Redis, and timed until it is done; CPU and peak
RSS are read from /proc for each worker process. Without REDIS_URL this process runs the engine
inline (engine.run, the code a worker task runs) and is the worker.

"FCM calls" are batch calls of at most 500 messages (the unit of the ≤ 200 target for 100,000
devices): FCM HTTP v1 takes one message per HTTP request, so the stand-in's HTTP requests are
reported beside them. The baseline, in the same run: the same number of plain HTTP POSTs to the
FCM stand-in from 16 threads (requests, no auth, no library, no database), so the ratio shows what
the engine and library cost over the wire itself.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
os.environ.setdefault("NO_GCE_CHECK", "True")


def stand_ins(conn, webpush_count: int) -> None:
    """Child process: start the three stand-ins, hand back their addresses and subscriptions."""
    from tests.push import keys
    from tests.push.standins import ApnsStandIn, WebPushStandIn, fcm_stand_in

    fcm = fcm_stand_in()
    section = keys.apns_section()
    apns = ApnsStandIn(keys.p8()[1], section["key_id"], section["team_id"], section["bundle_id"])
    web = WebPushStandIn()
    subscriptions = [web.subscribe(f"s{n}") for n in range(webpush_count)]
    conn.send(
        {
            "fcm_base": fcm.base,
            "token_uri": fcm.token_uri,
            "rsa": keys.rsa_pem(),
            "p8": keys.p8()[0],
            "apns_endpoint": apns.endpoint,
            "apns_ca": apns.ca,
            "web_origin": web.origin,
            "subscriptions": subscriptions,
        }
    )
    while True:
        message = conn.recv()
        if message == "stop":
            return
        if message == "fcm_requests":
            conn.send(fcm.requests)
        if message == "cpu":
            conn.send(time.process_time())
        if message == "vapid":
            web.vapid_public = conn.recv()
            conn.send("ok")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fcm", type=int, default=100_000)
    parser.add_argument("--apns", type=int, default=10_000)
    parser.add_argument("--webpush", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=2, help="celery worker processes (with REDIS_URL)")
    args = parser.parse_args()
    use_celery = bool(os.environ.get("REDIS_URL"))
    os.environ.setdefault("SECRET_KEY", "push-bench-" + "k" * 40)

    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=stand_ins, args=(child, args.webpush), daemon=True)
    process.start()
    info = parent.recv()
    os.environ["PUSH_TEST_RSA_PEM"] = info["rsa"]

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.PUSH_FCM_API_BASE = info["fcm_base"]
    settings.PUSH_APNS_ENDPOINT = info["apns_endpoint"]
    settings.PUSH_APNS_CA_FILE = info["apns_ca"]
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True
    call_command("migrate", verbosity=0)

    from basalt.accounts.models import Account
    from basalt.core.caller import Caller
    from basalt.projects import project_settings, services
    from basalt.push import bulk, engine
    from basalt.push import services as push_services
    from basalt.push.models import Push
    from basalt.push.providers import fcm as fcm_provider
    from tests.push import keys

    email = f"bench-push-{int(time.time())}@example.com"
    owner = Account.objects.create_user(email, "bench password 123")
    project = services.create_project(owner, "bench-push")
    section = keys.apns_section()
    section["key"] = info["p8"]
    shown = project_settings.update_settings(
        project,
        {
            "push": {
                "fcm": {"service_account": keys.service_account(info["token_uri"])},
                "apns": section,
                "webpush": {"generate": True},
            }
        },
    )
    parent.send("vapid")
    parent.send(shown["push"]["webpush"]["public_key"])
    parent.recv()
    project.refresh_from_db()
    caller = Caller(project=project, key_kind="secret", key_id="bench")
    worker = _start_worker(info, args.processes) if use_celery else None
    host_load = os.getloadavg()
    print(f"host: {os.cpu_count()} cores, load average {host_load[0]:.1f} {host_load[1]:.1f} {host_load[2]:.1f}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    if worker:
        print(f"worker: celery prefork, {args.processes} processes, PUSH_SEND_TASKS={args.processes}")
    else:
        print("worker: this process (engine.run inline)")
    rows = []
    db_cpu = _DatabaseCpu(settings.DATABASES["default"]["NAME"])

    def run(provider: str, count: int, tokens) -> None:
        if not count:
            return
        started = time.perf_counter()
        bulk.insert_installations(project, ({"provider": provider, "token": t} for t in tokens))
        seeded = time.perf_counter() - started
        calls_before = fcm_provider.calls if worker is None else _log_count(worker, ": fcm batch of ")
        requests_before = _ask(parent, "fcm_requests")
        standin_cpu = _ask(parent, "cpu")
        cpu_before = time.process_time() if worker is None else _worker_cpu(worker)
        db_cpu.start()
        started = time.perf_counter()
        answer, _ = push_services.send_push(
            caller, {"audience": {"where": {"provider": provider}}, "notification": {"title": "bench", "body": "b"}}
        )
        if worker is None:
            # With CELERY_TASK_ALWAYS_EAGER the push already ran on commit; run again in case it did not.
            engine.run(answer["id"])
        else:
            deadline = time.monotonic() + 900
            while Push.objects.filter(pk=answer["id"], status__in=(Push.SCHEDULED, Push.SENDING)).exists():
                if time.monotonic() > deadline:
                    raise SystemExit(f"push {answer['id']} not done after 900 s; see {worker.log}")
                db_cpu.sample()
                time.sleep(0.1)
        wall = time.perf_counter() - started
        cpu = (time.process_time() if worker is None else _worker_cpu(worker)) - cpu_before
        standin_cpu = _ask(parent, "cpu") - standin_cpu
        db_seconds = db_cpu.seconds() if db_cpu.last else None
        counts = push_services.counts(Push.objects.get(pk=answer["id"]))
        calls = (fcm_provider.calls if worker is None else _log_count(worker, ": fcm batch of ")) - calls_before
        rows.append(
            {
                "provider": provider,
                "devices": count,
                "seed_s": round(seeded, 1),
                "push_s": round(wall, 1),
                "deliveries_per_s": round(counts["sent"] / wall),
                "sent": counts["sent"],
                "failed": counts["failed"] + counts["invalid_tokens"],
                "fcm_batch_calls": calls if provider == "fcm" else None,
                "fcm_http_requests": _ask(parent, "fcm_requests") - requests_before if provider == "fcm" else None,
                "worker_cpu_ms_per_delivery": round(1000 * cpu / max(1, counts["sent"]), 3),
                "standin_cpu_ms_per_delivery": round(1000 * standin_cpu / max(1, counts["sent"]), 3),
                "postgres_cpu_ms_per_delivery": None
                if db_seconds is None
                else round(1000 * db_seconds / max(1, counts["sent"]), 3),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
        print(rows[-1], flush=True)

    run("fcm", args.fcm, (f"bench-{n:07d}-" + "f" * 24 for n in range(args.fcm)))
    run("apns", args.apns, (f"{n:064x}" for n in range(args.apns)))
    run("webpush", args.webpush, iter(info["subscriptions"]))
    if worker is None:
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"worker peak RSS: {rss_mib:.0f} MiB")
    else:
        peaks = _worker_rss(worker)
        print(f"worker peak RSS per process: {', '.join(f'{p:.0f}' for p in peaks)} MiB (sum {sum(peaks):.0f} MiB)")
        _stop_worker(worker)

    # Baseline: plain POSTs of the same counts to the FCM stand-in (no auth, no library, no DB).
    import requests

    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
    session.mount("http://", adapter)
    url = f"{info['fcm_base']}/v1/projects/demo-project/messages:send"
    headers = {"Authorization": "Bearer ya29.stand-in"}
    baseline_n = min(args.fcm, 20_000) or 1
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda n: session.post(url, json={"message": {"token": f"b{n}"}}, headers=headers), range(baseline_n)
            )
        )
    base_rate = baseline_n / (time.perf_counter() - started)
    print(f"baseline: plain HTTP POSTs to the FCM stand-in, 16 threads: {base_rate:.0f}/s")
    for row in rows:
        print(
            f"{row['provider']}: {row['deliveries_per_s']}/s = {row['deliveries_per_s'] / base_rate:.2f}x the baseline"
        )
    parent.send("stop")


def _ask(conn, what: str):
    conn.send(what)
    return conn.recv()


class _Worker:
    def __init__(self, process: subprocess.Popen, log: str):
        self.process, self.log = process, log

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [self.process.pid, *map(int, children.read_text().split())]


def _start_worker(info: dict, processes: int) -> _Worker:
    """A real worker on the bench's Redis DB, pointed at the stand-ins like the bench process."""
    env = dict(os.environ)
    env.update(
        PUSH_FCM_API_BASE=info["fcm_base"],
        PUSH_APNS_ENDPOINT=info["apns_endpoint"],
        PUSH_APNS_CA_FILE=info["apns_ca"],
        PUSH_ALLOW_PRIVATE_ENDPOINTS="true",
        PUSH_SEND_TASKS=str(processes),
        NO_GCE_CHECK="True",
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}",
    )
    import redis

    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    log = tempfile.NamedTemporaryFile(prefix="push-bench-worker-", suffix=".log", delete=False).name
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "basalt", "worker", "--pool", "prefork", "--concurrency",
             str(processes), "--loglevel", "INFO", "-n", f"push-bench-{os.getpid()}@localhost"],
            env=env, cwd=ROOT / "platform", stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker = _Worker(process, log)
    deadline = time.monotonic() + 120
    while " ready." not in Path(log).read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the celery worker did not start; see {log}")
        time.sleep(0.2)
    return worker


def _worker_cpu(worker: _Worker) -> float:
    """User + system seconds of the worker's processes (its children are where tasks run)."""
    total = 0.0
    for pid in worker.pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _worker_rss(worker: _Worker) -> list[float]:
    peaks = []
    for pid in worker.pids():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


class _DatabaseCpu:
    """CPU seconds spent by the PostgreSQL backends serving the bench's database (this machine's
    server only; others' databases on the same server are not counted). Read from /proc: a
    backend's CPU is its utime + stime, remembered at every `sample()`, so one that ends between
    samples loses at most what it used since the last (the bench samples every 0.1 s)."""

    def __init__(self, database: str):
        self.marker = f" {database} "
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def start(self) -> None:
        self.first, self.last = {}, {}
        self.sample(baseline=True)

    def sample(self, baseline: bool = False) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if not title.startswith("postgres:") or self.marker not in title:
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, used = int(entry.name), (int(fields[11]) + int(fields[12])) / tick
            # A backend started after `start` counts from zero.
            self.first.setdefault(pid, used if baseline else 0.0)
            self.last[pid] = used

    def seconds(self) -> float:
        self.sample()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def _log_count(worker: _Worker, text: str) -> int:
    return Path(worker.log).read_text(errors="replace").count(text)


def _stop_worker(worker: _Worker) -> None:
    os.killpg(worker.process.pid, signal.SIGTERM)
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(timeout=10)


if __name__ == "__main__":
    main()

"""Push delivery throughput against loopback provider stand-ins (issue 12's speed table).

Usage: DATABASE_URL=postgres://… BASALT_DATA_DIR=$(mktemp -d) python bench/push_bench.py \
           [--fcm 100000] [--apns 10000] [--webpush 10000]
The stand-ins (tests/push/standins.py) run in a child process, so this process is the worker:
its peak RSS and CPU are the worker's. For each provider it seeds N installations, sends one push
through the real engine (engine.run, the code a Celery worker runs) and reports wall time,
deliveries/s, provider calls, CPU per delivery; then a baseline in the same run: the same number
of plain HTTP POSTs to the same stand-in from 16 threads (FCM, Web Push unencrypted), so the
ratio shows what the engine + library cost over the wire itself.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
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
        if message == "vapid":
            web.vapid_public = conn.recv()
            conn.send("ok")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fcm", type=int, default=100_000)
    parser.add_argument("--apns", type=int, default=10_000)
    parser.add_argument("--webpush", type=int, default=10_000)
    args = parser.parse_args()

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
    host_load = os.getloadavg()
    print(f"host: {os.cpu_count()} cores, load average {host_load[0]:.1f} {host_load[1]:.1f} {host_load[2]:.1f}")
    print(f"database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")
    rows = []

    def run(provider: str, count: int, tokens) -> None:
        if not count:
            return
        started = time.perf_counter()
        bulk.insert_installations(project, ({"provider": provider, "token": t} for t in tokens))
        seeded = time.perf_counter() - started
        calls_before = fcm_provider.calls
        cpu_before = time.process_time()
        started = time.perf_counter()
        answer, _ = push_services.send_push(
            caller, {"audience": {"where": {"provider": provider}}, "notification": {"title": "bench", "body": "b"}}
        )
        # With CELERY_TASK_ALWAYS_EAGER the push already ran on commit; run again in case it did not.
        engine.run(answer["id"])
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        counts = push_services.counts(Push.objects.get(pk=answer["id"]))
        rows.append(
            {
                "provider": provider,
                "devices": count,
                "seed_s": round(seeded, 1),
                "push_s": round(wall, 1),
                "deliveries_per_s": round(counts["sent"] / wall),
                "sent": counts["sent"],
                "failed": counts["failed"] + counts["invalid_tokens"],
                "calls": fcm_provider.calls - calls_before if provider == "fcm" else None,
                "cpu_ms_per_delivery": round(1000 * cpu / max(1, counts["sent"]), 3),
            }
        )
        print(rows[-1], flush=True)

    run("fcm", args.fcm, (f"bench-{n:07d}-" + "f" * 24 for n in range(args.fcm)))
    run("apns", args.apns, (f"{n:064x}" for n in range(args.apns)))
    run("webpush", args.webpush, iter(info["subscriptions"]))
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"worker peak RSS: {rss_mib:.0f} MiB")

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


if __name__ == "__main__":
    main()

"""Measure end-user login throughput at the configured Argon2 cost (settings ARGON2_*).

Runs in-process against a throw-away embedded database (SQLite in a temp folder, or
DATABASE_URL if set): raw Argon2 verifications per second on 1 and 2 threads, then full
`POST /api/v1/auth/login` requests (key lookup, throttle, Argon2, session row, EdDSA token)
per second on 1 and 2 threads. Bounded in time; loopback only (no server is started).

    python bench/auth_bench.py --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    os.environ.setdefault("BASALT_DATA_DIR", tempfile.mkdtemp(prefix="basalt-auth-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "basalt.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.IDENTITY_LOGIN_FAILURES_PER_ACCOUNT = 10**9
    settings.IDENTITY_LOGIN_FAILURES_PER_ADDRESS = 10**9
    call_command("migrate", verbosity=0)


def _rate(work, seconds: float, threads: int) -> float:
    done = [0] * threads
    stop = time.monotonic() + seconds

    def loop(slot: int) -> None:
        from django.db import connection

        try:
            while time.monotonic() < stop:
                work()
                done[slot] += 1
        finally:
            connection.close()

    pool = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    args = parser.parse_args()
    _setup()
    from django.conf import settings
    from django.contrib.auth.hashers import check_password, make_password
    from rest_framework.test import APIClient

    from basalt.accounts.models import Account
    from basalt.projects import services

    encoded = make_password("benchmark-password-1")
    owner = Account.objects.create_user(f"bench{time.time_ns()}@example.com", "benchmark-password-1")
    project = services.create_project(owner, "auth bench")
    key = services.create_key(owner, project, "publishable").raw
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    signup = client.post(
        "/api/v1/auth/signup", {"email": "bench@example.com", "password": "benchmark-password-1"}, format="json"
    )
    assert signup.status_code == 201, signup.content

    def login() -> None:
        local = APIClient()
        local.credentials(HTTP_X_API_KEY=key)
        response = local.post(
            "/api/v1/auth/login", {"email": "bench@example.com", "password": "benchmark-password-1"}, format="json"
        )
        assert response.status_code == 200, response.content

    result = {
        "argon2": {
            "time_cost": settings.ARGON2_TIME_COST,
            "memory_kib": settings.ARGON2_MEMORY_COST_KIB,
            "parallelism": settings.ARGON2_PARALLELISM,
        },
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "cpu_count": os.cpu_count(),
        "argon2_verify_per_s_1_thread": round(
            _rate(lambda: check_password("benchmark-password-1", encoded), args.seconds, 1), 1
        ),
        "argon2_verify_per_s_2_threads": round(
            _rate(lambda: check_password("benchmark-password-1", encoded), args.seconds, 2), 1
        ),
        "login_per_s_1_thread": round(_rate(login, args.seconds, 1), 1),
        "login_per_s_2_threads": round(_rate(login, args.seconds, 2), 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Provider sign-in cost relative to a password login, measured in the same run.

In-process (no server), against a throw-away database and the loopback provider of the tests
(`tests/identity/provider_standin.py`): Google ID-token sign-ins (RS256, JWKS cached after the
first fetch) per second, password logins per second at the configured Argon2 cost, their ratio,
and how many JWKS fetches a burst of 200 tokens with unknown `kid`s caused (bounded by the
refetch cooldown). Loopback only.

    python bench/provider_bench.py --seconds 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    os.environ.setdefault("NO_GCE_CHECK", "True")
    from auth_bench import _rate, _setup

    os.environ.setdefault("BASALT_DATA_DIR", tempfile.mkdtemp(prefix="basalt-provider-bench-"))
    _setup()
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.conf import settings
    from rest_framework.test import APIClient

    from basalt.accounts.models import Account
    from basalt.projects import services
    from basalt.projects.project_settings import update_settings
    from tests.identity.provider_standin import Standin

    standin = Standin()
    settings.IDENTITY_PROVIDER_ENDPOINTS = standin.endpoints()
    settings.IDENTITY_PROVIDER_ALLOW_PRIVATE_HOSTS = True
    owner = Account.objects.create_user(f"bench{time.time_ns()}@example.com", "benchmark-password-1")
    project = services.create_project(owner, "provider bench")
    key = services.create_key(owner, project, "publishable").raw
    client_id = "bench.apps.googleusercontent.com"
    update_settings(project, {"auth": {"providers": {"google": {"enabled": True, "client_ids": [client_id]}}}})
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    assert (
        client.post(
            "/api/v1/auth/signup", {"email": "pw@example.com", "password": "benchmark-password-1"}, format="json"
        ).status_code
        == 201
    )
    token = standin.mint(
        standin.claims(
            "https://accounts.google.com", client_id, sub="bench", email="g@example.com", email_verified=True
        )
    )

    def provider() -> None:
        response = client.post("/api/v1/auth/providers/google", {"id_token": token}, format="json")
        assert response.status_code == 200, response.content

    def password() -> None:
        response = client.post(
            "/api/v1/auth/login", {"email": "pw@example.com", "password": "benchmark-password-1"}, format="json"
        )
        assert response.status_code == 200, response.content

    provider_rate = _rate(provider, args.seconds, 1)
    password_rate = _rate(password, args.seconds, 1)
    before = standin.hits.get("/google/jwks", 0)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for i in range(200):
        bad = standin.mint(standin.claims("https://accounts.google.com", client_id), kid=f"bogus-{i}", key=stranger)
        assert client.post("/api/v1/auth/providers/google", {"id_token": bad}, format="json").status_code == 401
    result = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "argon2_time_cost": settings.ARGON2_TIME_COST,
        "provider_sign_in_per_s": round(provider_rate, 1),
        "password_login_per_s": round(password_rate, 1),
        "provider_vs_password_ratio": round(provider_rate / password_rate, 2),
        "jwks_fetches_for_200_unknown_kids": standin.hits.get("/google/jwks", 0) - before,
    }
    standin.close()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""`manage.py security_check` flags each insecure setting; the shipped production settings pass (T20)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
ROOT = Path(__file__).resolve().parents[2]
REAL_SECRET = "Vb3-" + "hQ7pXz2mK9wR" * 5
COMPOSE_URLS = {
    "DATABASE_URL": "postgres://basalt:pw@postgres:5432/basalt",
    "REDIS_URL": "redis://redis:6379/0",
    "S3_ENDPOINT_URL": "http://minio:9000",
}


def run_check() -> tuple[int, list[dict]]:
    out = io.StringIO()
    try:
        call_command("security_check", "--json", stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue())


def checks(found: list[dict], level: str) -> set[str]:
    return {f["check"] for f in found if f["level"] == level}


@pytest.fixture
def hardened(settings):
    """Settings as the shipped production configuration sets them (the check reads them, never connects)."""
    settings.PRODUCTION = True
    settings.PROFILE = "production"
    settings.DEBUG = False
    settings.SECRET_KEY = REAL_SECRET
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "SIGNING_KEY": REAL_SECRET}
    settings.ALLOWED_HOSTS = ["basalt.example.com"]
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    settings.CONSOLE_SIGNUP_OPEN = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.ARGON2_TIME_COST = 3
    settings.ARGON2_MEMORY_COST_KIB = 65536
    settings.DATABASES = {"default": {**settings.DATABASES["default"], "ENGINE": "django.db.backends.postgresql"}}
    settings.CSRF_TRUSTED_ORIGINS = ["https://basalt.example.com"]
    return settings


def test_hardened_settings_have_no_findings(hardened):
    code, found = run_check()
    assert (code, found) == (0, [])


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"DEBUG": True}, "debug"),
        ({"SECRET_KEY": "secret"}, "secret_key"),
        ({"SECRET_KEY": "change-me"}, "secret_key"),
        ({"SECRET_KEY": "django-insecure-" + "ab3" * 15}, "secret_key"),
        ({"SECRET_KEY": "Zk8-too-short"}, "secret_key"),
        ({"SECRET_KEY": "abab" * 20}, "secret_key"),
        ({"ALLOWED_HOSTS": []}, "allowed_hosts"),
        ({"ALLOWED_HOSTS": ["basalt.example.com", "*"]}, "allowed_hosts"),
        ({"SESSION_COOKIE_SECURE": False}, "secure_cookies"),
        ({"CSRF_COOKIE_SECURE": False}, "secure_cookies"),
        ({"SECURE_HSTS_SECONDS": 0}, "hsts"),
    ],
)
def test_each_insecure_setting_is_an_error(hardened, change, check):
    """One insecure setting → exactly that error, exit code 1."""
    for name, value in change.items():
        setattr(hardened, name, value)
    code, found = run_check()
    assert code == 1
    assert checks(found, "error") == {check}


@pytest.mark.parametrize("key", ["", "secret", "django-insecure-abc", "x" * 40])
def test_default_console_jwt_signing_key_is_an_error(hardened, key):
    hardened.SIMPLE_JWT = {**hardened.SIMPLE_JWT, "SIGNING_KEY": key}
    code, found = run_check()
    assert code == 1
    assert checks(found, "error") == {"console_jwt_key"}


@pytest.mark.parametrize(
    ("change", "check"),
    [
        ({"CONSOLE_SIGNUP_OPEN": True, "CONSOLE_SIGNUP_REQUIRES_CONFIRMATION": False}, "signup"),
        ({"REST_FRAMEWORK": {"NUM_PROXIES": 0}}, "proxies"),
        ({"CELERY_TASK_ALWAYS_EAGER": True}, "celery_eager"),
        ({"ARGON2_MEMORY_COST_KIB": 1024}, "argon2"),
        ({"CSRF_TRUSTED_ORIGINS": ["http://basalt.example.com"]}, "csrf_origins"),
        ({"DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}, "database"),
    ],
)
def test_questionable_settings_are_warnings_not_errors(hardened, change, check):
    """Warnings are printed but do not fail the check (unless --fail-on-warning)."""
    for name, value in change.items():
        setattr(hardened, name, value)
    code, found = run_check()
    assert code == 0
    assert checks(found, "warning") == {check}
    assert checks(found, "error") == set()
    with pytest.raises(SystemExit) as exc:
        call_command("security_check", "--fail-on-warning", stdout=io.StringIO())
    assert exc.value.code == 1


def test_signup_open_with_confirmation_is_fine(hardened):
    hardened.CONSOLE_SIGNUP_OPEN = True
    hardened.CONSOLE_SIGNUP_REQUIRES_CONFIRMATION = True
    assert run_check() == (0, [])


# --- real processes: the environment as an operator writes it --------------------------------


def env_example() -> dict[str, str]:
    """The uncommented assignments of .env.example."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def run_subprocess(tmp_path: Path, variables: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in env_example() and not k.startswith("BASALT_")}
    env.update({k: v for k, v in variables.items() if v != ""})
    env["BASALT_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "security_check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def shipped(**changes: str) -> dict[str, str]:
    """.env.example as docker-compose passes it, with a real secret filled in."""
    return {**env_example(), **COMPOSE_URLS, "SECRET_KEY": REAL_SECRET, **changes}


def test_shipped_production_settings_pass(tmp_path):
    """.env.example + a real SECRET_KEY: zero errors and zero warnings, exit 0."""
    result = run_subprocess(tmp_path, shipped())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "security_check (production): 0 error(s), 0 warning(s)" in result.stdout


def test_shipped_settings_behind_tls_pass_with_hsts(tmp_path):
    result = run_subprocess(tmp_path, shipped(BEHIND_TLS_PROXY="true", SECURE_HSTS_SECONDS="31536000"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"ALLOWED_HOSTS": "*"}, "ERROR   allowed_hosts"),
        ({"SECURE_COOKIES": "false"}, "ERROR   secure_cookies"),
        ({"BEHIND_TLS_PROXY": "true", "SECURE_HSTS_SECONDS": "0"}, "ERROR   hsts"),
    ],
)
def test_insecure_environment_fails_the_check(tmp_path, changes, flag):
    result = run_subprocess(tmp_path, shipped(**changes))
    assert result.returncode == 1
    assert flag in result.stdout


@pytest.mark.parametrize("changes", [{"DEBUG": "true"}, {"SECRET_KEY": "change-me"}, {"ALLOWED_HOSTS": ""}])
def test_settings_that_cannot_even_load_fail_before_the_check(tmp_path, changes):
    """Production refuses these at start-up already; the check exits non-zero with the reason."""
    result = run_subprocess(tmp_path, shipped(**changes))
    assert result.returncode == 2
    assert result.stderr.startswith("basalt: configuration error:")


def test_embedded_profile_flags_debug_and_open_hosts(tmp_path):
    """The embedded profile does not refuse to start, so the check is what catches these."""
    result = run_subprocess(tmp_path, {"DEBUG": "true", "ALLOWED_HOSTS": "*"})
    assert result.returncode == 1
    assert "ERROR   debug" in result.stdout
    assert "ERROR   allowed_hosts" in result.stdout
    assert "WARNING profile" in result.stdout

"""Production settings refuse unsafe configurations; the embedded default keeps its own secret."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k3Y-" + "q9Zr7vLw2Tx8" * 4


def manage(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clean_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The test runner's environment minus every Basalt variable, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BASALT_", "DJANGO_"))}
    for name in (
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "SECURE_COOKIES",
        "BEHIND_TLS_PROXY",
        "SECURE_HSTS_SECONDS",
        "CONSOLE_SIGNUP_OPEN",
    ):
        env.pop(name, None)
    env["BASALT_DATA_DIR"] = str(tmp_path / "data")
    env.update(overrides)
    return env


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    base = {"BASALT_PROFILE": "production", "SECRET_KEY": GOOD_SECRET, "ALLOWED_HOSTS": "basalt.example.com"}
    return clean_env(tmp_path, **{**base, **overrides})


def assert_refused(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, one `basalt: configuration error:` line naming the problem, and no traceback."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("basalt: configuration error: refusing to start in production")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_production_with_safe_settings_passes_check(tmp_path):
    """The control case: a real secret, DEBUG off and a host list start fine."""
    result = manage("check", env=production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 40}, "SECRET_KEY"),
        ({"SECRET_KEY": "short-but-random-Zq81"}, "SECRET_KEY"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS"),
    ],
    ids=["missing-secret", "default-secret", "django-insecure-secret", "short-secret", "debug-on", "no-hosts"],
)
def test_production_refuses_unsafe_setting(tmp_path, overrides, needle):
    """Each unsafe setting alone stops `manage.py check` with one clear line naming it."""
    assert_refused(manage("check", env=production_env(tmp_path, **overrides)), needle)


def test_production_lists_every_problem_at_once(tmp_path):
    """An operator fixes everything in one go: all problems are in the one message."""
    env = production_env(tmp_path, SECRET_KEY="", DEBUG="1", ALLOWED_HOSTS="")
    assert_refused(manage("check", env=env), "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")


def test_malformed_boolean_is_a_configuration_error_not_a_traceback(tmp_path):
    result = manage("check", env=production_env(tmp_path, DEBUG="maybe"))
    assert result.returncode == 2
    assert result.stderr.strip() == "basalt: configuration error: DEBUG must be a boolean (true/false), got 'maybe'"


@pytest.mark.parametrize("module", ["basalt.wsgi", "basalt.asgi"])
def test_server_entry_points_refuse_with_the_same_message(tmp_path, module):
    """gunicorn/daphne import these: a bad configuration exits 2 with one line, not a traceback per worker."""
    env = production_env(tmp_path, SECRET_KEY="")
    env["PYTHONPATH"] = str(ROOT / "platform")
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert_refused(result, "SECRET_KEY")


def test_production_does_not_write_a_secret_file(tmp_path):
    """Production never falls back to a generated secret: the key comes from the environment only."""
    manage("check", env=production_env(tmp_path, SECRET_KEY=""))
    assert not (tmp_path / "data" / "secret_key").exists()


def read_secret_in_subprocess(env: dict[str, str]) -> str:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_embedded_default_generates_and_keeps_its_secret(tmp_path):
    """Two starts on one data folder share one generated secret, stored owner-only (0600)."""
    env = clean_env(tmp_path)
    first = read_secret_in_subprocess(env)
    second = read_secret_in_subprocess(env)
    path = tmp_path / "data" / "secret_key"
    assert path.read_text().strip() == first == second
    assert len(first) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_embedded_secret_differs_per_data_folder(tmp_path):
    """Secrets are generated, never a constant shipped in the code."""
    one = read_secret_in_subprocess(clean_env(tmp_path / "one"))
    two = read_secret_in_subprocess(clean_env(tmp_path / "two"))
    assert one != two


def test_embedded_default_starts_without_any_variable(tmp_path):
    result = manage("check", env=clean_env(tmp_path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("value", "expected"), [(None, "True 5"), ("false", "None None")])
def test_postgresql_statements_are_prepared_unless_turned_off(tmp_path, value, expected):
    """Server-side binding and prepared statements by default; off for poolers that cannot keep them."""
    env = clean_env(tmp_path, DATABASE_URL="postgres://basalt@127.0.0.1:5432/basalt")
    if value is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = value
    show = (
        "from django.conf import settings; o = settings.DATABASES['default']['OPTIONS']; "
        "print(o.get('server_side_binding'), o.get('prepare_threshold'))"
    )
    result = manage("shell", "-c", show, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected

"""The production path: docker-compose.yml, the image and .env.example are complete and consistent.

There is no Docker engine on the test machines, so the compose file is checked as data
(`.ci/run` also runs `docker compose config` where the compose plugin exists).
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("web", "realtime", "worker", "beat")
LONG_RUNNING = ("postgres", "redis", "minio", *APP_SERVICES, "proxy")
ENV_READER = re.compile(r"env_(?:str|bool|int|list)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env_example_names() -> set[str]:
    """Variables documented in .env.example, set or commented out."""
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE))


def variables_read_by_basalt() -> set[str]:
    names = set()
    for folder in (ROOT / "platform", ROOT / "console"):
        for path in folder.rglob("*.py"):
            names |= set(ENV_READER.findall(path.read_text()))
    return names


def test_every_part_of_the_production_path_is_a_service(services):
    assert set(services) >= {"postgres", "redis", "minio", "minio-init", "web", "worker", "beat", "realtime", "proxy"}


def test_postgres_is_16_on_a_named_volume_with_pg_isready(compose, services):
    pg = services["postgres"]
    assert pg["image"] == "postgres:16"
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(v.startswith("postgres-data:/var/lib/postgresql/data") for v in pg["volumes"])


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_long_running_services_have_healthchecks_and_restart(services, name):
    service = services[name]
    assert service["healthcheck"]["test"], name
    assert service["restart"] in {"unless-stopped", "always"}


def test_web_health_is_readiness(services):
    assert services["web"]["healthcheck"]["test"][-1] == "/readyz"


def test_minio_init_creates_the_bucket_once_minio_is_healthy(services):
    init = services["minio-init"]
    assert init["depends_on"]["minio"]["condition"] == "service_healthy"
    script = " ".join(init["command"])
    assert "mc mb --ignore-existing" in script and "S3_BUCKET" in script
    assert init.get("restart") == "no"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_backends_and_read_only_the_environment(services, name):
    service = services[name]
    deps = service["depends_on"]
    assert deps["postgres"]["condition"] == "service_healthy"
    assert deps["redis"]["condition"] == "service_healthy"
    assert deps["minio-init"]["condition"] == "service_completed_successfully"
    if name != "web":
        # Migrations run once, in web; the others start on a migrated database.
        assert deps["web"]["condition"] == "service_healthy"
    assert any(entry["path"] == ".env" for entry in service["env_file"])
    assert service["environment"]["BASALT_PROFILE"] == "production"
    assert service["command"] == [name]
    assert service["image"] == "basalt:latest" and service["build"] == "."


def test_no_secret_is_written_into_the_compose_file(services):
    """Passwords and keys come from .env through interpolation, never as literals."""
    for name, service in services.items():
        env = service.get("environment", {})
        for key, value in env.items():
            if any(word in key for word in ("PASSWORD", "SECRET", "KEY", "_URL")):
                assert "${" in str(value), f"{name}.{key} is a literal"


def test_volumes_are_named_and_declared(compose, services):
    declared = set(compose["volumes"])
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert volume.endswith(":ro"), f"{name} bind-mounts {source} writable"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
    assert {"postgres-data", "redis-data", "minio-data"} <= declared


def test_compose_interpolates_only_documented_variables():
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    assert used - env_example_names() == set()


def test_env_example_documents_every_variable_basalt_reads():
    """Add a line to .env.example (and README's table) for any new variable."""
    assert variables_read_by_basalt() - env_example_names() == set()


def test_readme_configuration_table_lists_every_variable():
    readme = (ROOT / "README.md").read_text()
    missing = {name for name in variables_read_by_basalt() | env_example_names() if f"`{name}`" not in readme}
    assert missing == set()


def test_dockerfile_builds_a_non_root_production_image():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    assert "pip install -r requirements.txt" in dockerfile
    assert "collectstatic" in dockerfile
    assert re.search(r"^USER basalt$", dockerfile, flags=re.MULTILINE)
    assert "BASALT_PROFILE=production" in dockerfile
    # The build-time secret is set on the collectstatic step only, never as a persistent ENV.
    env_block = dockerfile.split("WORKDIR")[0]
    assert "SECRET_KEY" not in env_block


def test_entrypoint_roles():
    entrypoint = ROOT / "docker" / "entrypoint.sh"
    assert entrypoint.stat().st_mode & stat.S_IXUSR
    text = entrypoint.read_text()
    web = text.split("web)")[1].split(";;")[0]
    # Check, migrate once, then the server: in that order, and only in the web role.
    assert web.index("security_check") < web.index("migrate") < web.index("exec granian basalt.wsgi:application")
    assert "--interface wsgi" in web
    assert text.count("manage.py migrate") == 1
    realtime = text.split("realtime)")[1].split(";;")[0]
    # daphne through `serve` (bounded threads and pool, JSON edge errors), never migrating or running tasks.
    assert "exec python manage.py serve --no-migrate --no-worker --proxy-headers" in realtime
    assert "exec celery -A basalt worker" in text
    assert "exec celery -A basalt beat" in text


def test_proxy_routes_websockets_to_daphne():
    caddyfile = (ROOT / "docker" / "Caddyfile").read_text()
    realtime = caddyfile.split("handle /api/v1/realtime*")[1].split("}")[0]
    assert "reverse_proxy realtime:8001" in realtime
    assert "reverse_proxy web:8000" in caddyfile


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", "data", ".venv"} <= ignored
